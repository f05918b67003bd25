"""API latency while a 5,000-device inventory reloads, side by side with no reload (issue 11).

The daemon runs as its own process with `--devices` inventory devices, each with SNMP settings
(polled once an hour at 127.0.0.x addresses nobody answers on, so the scheduler has a loop per
device to diff). This process is the load client: an open-loop `GET --path` load at
`--rate` requests/s for `--seconds`, latency measured from each request's scheduled send time,

1. with no reload (the reference: the same daemon, endpoint and rate), then
2. with a SIGHUP every `--every` seconds, each after rewriting hosts.yaml so that one device
   changes, one is added and one removed — a reload that parses, validates and applies all of it.

Rounds alternate the two, and medians are reported; the target is that reloads add < 20 ms to p99.

Run from the repository root:  .venv/bin/python -m bench.reload_api [--devices 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.api_load import open_loop, rss_mib
from tests.servers import free_tcp_port, wait_http


def hosts_yaml(devices: int, generation: int) -> str:
    """`devices` hosts; each generation drops the lowest, adds one and changes one interval."""
    hosts = []
    for n in range(generation, devices + generation):
        interval = 3600 if n != generation + 1 else 3600 + generation
        hosts.append(
            f"sw{n:05d}:\n"
            f"  hostname: 127.0.{(n // 250) % 250}.{n % 250 + 1}\n"
            f"  platform: ios\n"
            f"  groups: [site{n % 20}]\n"
            f"  data:\n"
            f"    tags: [bench, rack{n % 50}]\n"
            f"    site: s{n % 20}\n"
            f"    snmp: {{port: 9, interval: {interval}, timeout: 0.5, retries: 0}}\n"
        )
    return "".join(hosts)


def write_setup(directory: Path, devices: int, api_port: int, generations: int) -> Path:
    """Settings, the inventory of generation 1, and the next generations' hosts files."""
    inventory = directory / "inventory"
    inventory.mkdir(exist_ok=True)
    (inventory / "hosts.yaml").write_text(hosts_yaml(devices, 1))
    for generation in range(2, generations + 2):
        (directory / f"hosts.{generation}.yaml").write_text(hosts_yaml(devices, generation))
    (inventory / "groups.yaml").write_text("".join(f"site{n}: {{}}\n" for n in range(20)))
    (inventory / "defaults.yaml").write_text("data:\n  snmp: {version: '2c', credential: ro}\n")
    (directory / "secrets").mkdir(exist_ok=True)
    (directory / "secrets" / "credentials__ro__community").write_text("public")
    config = directory / "genosd.yaml"
    config.write_text(
        f"state_dir: {directory / 'state'}\ninventory_dir: {inventory}\n"
        f"api: {{port: {api_port}, rate_limit_per_minute: 10000000, rate_limit_burst: 1000000}}\n"
        f"secrets_dir: {directory / 'secrets'}\nlog_level: INFO\n"
        "ssh: {backup_schedule: '', facts_interval: 0}\n"
    )
    return config


async def reloading(
    daemon: subprocess.Popen[bytes], directory: Path, generations: list[int], every: float
) -> None:
    """Every `every` seconds, put the next prepared inventory in place and SIGHUP the daemon.

    The files are written before the measurement, so the load client's own loop never stalls
    on building a 5,000-host file.
    """
    while generations:
        await asyncio.sleep(every)
        os.replace(
            directory / f"hosts.{generations.pop(0)}.yaml", directory / "inventory" / "hosts.yaml"
        )
        daemon.send_signal(signal.SIGHUP)


async def settle(base: str, auth: dict[str, str], timeout: float) -> None:
    """Wait until every device had its first poll (they time out: concurrency-bound, ~25 s)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(headers=auth) as session:
        while time.monotonic() < deadline:
            url = f"{base}/api/v1/devices?status=unknown&limit=1"
            async with session.get(url) as response:
                if (await response.json())["total"] == 0:
                    break
            await asyncio.sleep(1)
    await asyncio.sleep(2)


def start_daemon(
    directory: Path, devices: int, generations: int = 0
) -> tuple[subprocess.Popen[bytes], str, int]:
    """The daemon on a `devices`-host inventory, and a viewer key for it."""
    api_port = free_tcp_port()
    config = write_setup(directory, devices, api_port, generations)
    genosd = str(Path(sys.executable).parent / "genosd")
    created = subprocess.run(
        [genosd, "keys", "create", "--role", "viewer", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    with open(directory / "daemon.log", "wb") as log:
        daemon = subprocess.Popen([genosd, "run", "--config", str(config)], stderr=log)
    wait_http(f"http://127.0.0.1:{api_port}/api/v1/health", timeout=120)
    return daemon, json.loads(created.stdout)["secret"], api_port


async def measure(
    args: argparse.Namespace, daemon: subprocess.Popen[bytes], directory: Path, key: str, port: int
) -> dict:
    """Alternate rounds without and with reloads; medians of each."""
    auth = {"Authorization": f"Bearer {key}"}
    await settle(f"http://127.0.0.1:{port}", auth, args.settle)
    url = f"http://127.0.0.1:{port}{args.path}"
    quiet, busy = [], []
    generations = list(range(2, _generations(args) + 2))
    for _ in range(args.rounds):
        quiet.append(await open_loop(url, auth, args.rate, args.seconds))
        task = asyncio.create_task(reloading(daemon, directory, generations, args.every))
        try:
            busy.append(await open_loop(url, auth, args.rate, args.seconds))
        finally:
            task.cancel()
        await asyncio.sleep(args.every)  # let the last reload finish
    no_reload, with_reload = _median(quiet), _median(busy)
    return {
        "devices": args.devices,
        "rate": args.rate,
        "path": args.path,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "reload_every_s": args.every,
        "rss_mib": round(rss_mib(daemon.pid), 1),
        "no_reload": no_reload,
        "with_reload": with_reload,
        "p99_added_ms": round(with_reload["p99_ms"] - no_reload["p99_ms"], 2),
        "ratio_p99": round(with_reload["p99_ms"] / no_reload["p99_ms"], 2),
    }


def _generations(args: argparse.Namespace) -> int:
    return args.rounds * (int(args.seconds / args.every) + 1)


def _median(rounds: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between reloads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", default="/api/v1/devices?limit=20", help="the endpoint loaded")
    parser.add_argument(
        "--settle", type=float, default=120.0, help="longest wait for the first polls"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genosd-reload-bench-") as tmp:
        directory = Path(tmp)
        daemon, key, port = start_daemon(directory, args.devices, _generations(args))
        try:
            result = asyncio.run(measure(args, daemon, directory, key, port))
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
        result["reloads_logged"] = (directory / "daemon.log").read_text().count("reloaded:")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
