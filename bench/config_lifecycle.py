"""Config backup of 200 SSH devices and render+validate of 1,000 configs, each beside a bare baseline.

Devices take the `--platforms` in turn (default: ios,eos,nxos,junos — the lab's simulators).

1. Backup: `--devices` simulated devices (the lab's asyncssh CLIs) run in a child process. genosd's
   `backup()` (Nornir + netmiko, host-key pinning, volatile stripping, masking, a git commit per
   device) runs against them, and so does a bare baseline in the same run: plain netmiko
   `send_command(<the platform's running-config command>)` from a thread pool of the same size,
   keeping nothing.
2. Render + validate: `--configs` devices with 8 interfaces and 4 VLANs each are rendered with the
   shipped templates of their platform in Jinja2's sandbox and validated (structure + the shipped
   rules). The baseline renders the same templates with a plain (unsandboxed) Jinja2 environment
   and no checks.

Wall time, configs/s and peak memory (tracemalloc for render, RSS for backup) are printed as a
Markdown table.  Run from the repository root:
    .venv/bin/python -m bench.config_lifecycle [--devices 200 --configs 1000 --rounds 3
                                               --platforms ios,eos,nxos,junos]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2

FLEET = """
import asyncio, json, sys
import asyncssh
from genosd.lab.ios_config import RunningConfig
from genosd.lab.ios_device import IosDevice
from genosd.lab.ssh_server import SimulatedDevice, start_ssh_device
from genosd.lab.topology import LabNode, build_device
from tests.ssh_lab import BASE, PASSWORD, SECRET, USER

async def main(count, platforms):
    key = asyncssh.generate_private_key("ssh-ed25519")
    servers, ports = [], {}
    for n in range(count):
        platform = platforms[n % len(platforms)]
        name = f"{platform}{n:03d}"
        if platform == "ios":
            device = IosDevice(name, config=RunningConfig.parse(BASE.format(name=name, peer="x", n=n % 250)))
        else:
            device = build_device(LabNode(name, platform, n % 250 + 1), community="bench-community")
        server = await start_ssh_device(SimulatedDevice(device, USER, PASSWORD, SECRET, key, None),
                                        "127.0.0.1", 0)
        servers.append(server)
        ports[name] = [server.sockets[0].getsockname()[1], platform]
    print(json.dumps(ports), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main(int(sys.argv[1]), sys.argv[2].split(",")))
"""
# interface names per platform: (loopback, the n-th port)
INTERFACE_NAMES = {
    "ios": ("Loopback0", lambda i: f"GigabitEthernet0/{i}"),
    "eos": ("Loopback0", lambda i: f"Ethernet{i + 1}"),
    "nxos": ("loopback0", lambda i: f"Ethernet1/{i + 1}"),
    "junos": ("lo0", lambda i: f"ge-0/0/{i}"),
}
Fleet = dict[str, tuple[int, str]]  # device -> (SSH port, platform)


def _fleet(count: int, platforms: list[str]) -> tuple[subprocess.Popen[str], Fleet]:
    proc = subprocess.Popen(
        [sys.executable, "-c", FLEET, str(count), ",".join(platforms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, {
        name: (port, platform)
        for name, (port, platform) in json.loads(proc.stdout.readline()).items()
    }


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_backup(ports: Fleet, workers: int, state: Path) -> dict[str, float]:
    """genosd backup() of every device; wall time and devices/s."""
    from genosd.config.backup import backup
    from genosd.config.history import ConfigHistory
    from genosd.platforms import platform as platform_named
    from genosd.ssh.hostkeys import KnownHosts
    from genosd.ssh.target import SshTarget
    from tests.ssh_lab import PASSWORD, SECRET, USER

    targets = [
        SshTarget(
            name, "127.0.0.1", port, platform_named(platform), USER, PASSWORD, SECRET, timeout=60
        )
        for name, (port, platform) in ports.items()
    ]
    history, known = ConfigHistory(state / "configs"), KnownHosts(state / "known_hosts")
    started = time.perf_counter()
    results = backup(targets, history, known, concurrency=workers, author="bench")
    wall = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    assert not failed, failed[:3]
    return {"wall": wall, "rate": len(results) / wall}


def bench_bare_netmiko(ports: Fleet, workers: int) -> dict[str, float]:
    """The baseline: netmiko reads the running config from a thread pool, nothing kept."""
    from netmiko import ConnectHandler

    from genosd.platforms import platform as platform_of
    from tests.ssh_lab import PASSWORD, SECRET, USER

    def one(device: tuple[int, str]) -> int:
        port, platform = device[0], platform_of(device[1])
        with ConnectHandler(
            device_type=platform.netmiko,
            host="127.0.0.1",
            port=port,
            username=USER,
            password=PASSWORD,
            secret=SECRET,
            fast_cli=False,
        ) as conn:
            return len(conn.send_command(platform.commands["running_config"]))

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        sizes = list(pool.map(one, ports.values()))
    wall = time.perf_counter() - started
    assert all(sizes)
    return {"wall": wall, "rate": len(sizes) / wall}


def _devices(count: int, platforms: list[str]) -> list:
    from genosd.inventory import Device

    devices = []
    for n in range(count):
        platform = platforms[n % len(platforms)]
        loopback, port_name = INTERFACE_NAMES[platform]
        interfaces: dict[str, dict[str, object]] = {
            loopback: {"address": f"10.255.{n // 250}.{n % 250 + 1}/32"}
        }
        for port in range(8):
            interfaces[port_name(port)] = (
                {"description": f"uplink {port}", "address": f"10.{n % 250}.{port}.1/30"}
                if port < 2
                else {"description": f"users {port}", "mode": "access", "vlan": 10}
            )
        data = {
            "domain": "bench.example",
            "ntp_servers": ["10.0.0.1", "10.0.0.2"],
            "snmp_contact": "noc@bench.example",
            "syslog_servers": ["10.0.0.5"],
            "vlans": {10: "users", 20: "voice", 30: "printers", 99: "mgmt"},
            "interfaces": interfaces,
        }
        devices.append(
            Device(
                name=f"sw{n:04d}",
                hostname="192.0.2.1",
                platform=platform,
                groups=("access",),
                tags=(),
                site="fra1",
                role="access",
                data=data,
            )
        )
    return devices


def bench_render_validate(devices: list, templates: Path, trace: bool) -> dict[str, float]:
    """genosd: sandboxed render + structure + rules for every device."""
    from genosd.config.render import Renderer
    from genosd.config.rules import load_rules
    from genosd.config.secrets import Masker
    from genosd.config.validate import validate_config
    from genosd.platforms import platform

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    renderer, rules = Renderer(templates), load_rules([templates / "rules"])
    findings = 0
    for device in devices:
        rendered = renderer.render(device)
        findings += len(
            validate_config(
                device,
                Masker(platform(device.platform), device.name, b"k" * 32),
                list(rendered.features),
                rendered.text,
                rules,
            ).findings
        )
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    tracemalloc.stop()
    assert findings == 0, findings
    return {"wall": wall, "rate": len(devices) / wall, "peak": peak}


def bench_bare_jinja(devices: list, templates: Path, trace: bool) -> dict[str, float]:
    """The baseline: plain Jinja2, same templates and data, no sandbox, no checks."""
    from genosd.config.render import _ipaddr, template_context

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ipaddr"] = _ipaddr
    features = ["base", "aaa", "snmp", "ntp", "vlans", "interfaces"]
    size = 0
    for device in devices:
        context = template_context(device, {})
        size += sum(
            len(env.get_template(f"{device.platform}/{f}.j2").render(context)) for f in features
        )
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    tracemalloc.stop()
    assert size
    return {"wall": wall, "rate": len(devices) / wall, "peak": peak}


def main() -> None:
    """Alternate genosd and baseline rounds; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--configs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--platforms", default="ios,eos,nxos,junos")
    args = parser.parse_args()
    platforms = args.platforms.split(",")
    unknown = set(platforms) - set(INTERFACE_NAMES)
    if unknown:
        parser.error(f"unknown platform(s): {', '.join(sorted(unknown))}")
    templates = Path(__file__).parents[1] / "templates"

    devices = _devices(args.configs, platforms)
    render = {"genosd": [], "bare": []}  # type: dict[str, list[dict[str, float]]]
    # timed rounds run without tracemalloc (it slows Python code several times); one traced
    # round per side measures the peak allocation
    for _ in range(args.rounds):
        render["genosd"].append(bench_render_validate(devices, templates, trace=False))
        render["bare"].append(bench_bare_jinja(devices, templates, trace=False))
    peaks = {
        "genosd": bench_render_validate(devices, templates, trace=True)["peak"],
        "bare": bench_bare_jinja(devices, templates, trace=True)["peak"],
    }

    proc, ports = _fleet(args.devices, platforms)
    backups = {"genosd": [], "bare": []}  # type: dict[str, list[dict[str, float]]]
    try:
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as state:
                backups["genosd"].append(bench_backup(ports, args.workers, Path(state)))
            backups["bare"].append(bench_bare_netmiko(ports, args.workers))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"\nplatforms: {', '.join(platforms)}")
    print(f"\n{args.configs} configs rendered + validated (median of {args.rounds}):\n")
    print("| | wall s | configs/s | peak MiB (tracemalloc) |\n|---|---:|---:|---:|")
    for name in ("genosd", "bare"):
        rows = render[name]
        print(
            f"| {name} | {med(rows, 'wall'):.2f} | {med(rows, 'rate'):,.0f} | {peaks[name]:.1f} |"
        )
    print(
        f"| ratio genosd/bare (time) | x{med(render['genosd'], 'wall') / med(render['bare'], 'wall'):.2f} | | |"
    )
    print(
        f"\n{args.devices} devices backed up, {args.workers} sessions at once (median of {args.rounds}):\n"
    )
    print("| | wall s | devices/s |\n|---|---:|---:|")
    for name in ("genosd", "bare"):
        rows = backups[name]
        print(f"| {name} | {med(rows, 'wall'):.2f} | {med(rows, 'rate'):.1f} |")
    print(
        f"| ratio genosd/bare (time) | x{med(backups['genosd'], 'wall') / med(backups['bare'], 'wall'):.2f} | |"
    )
    print(f"\npeak RSS of this process (both backups and renders): {_rss_mib():.0f} MiB")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
