"""A 3-step read-only playbook over simulated SSH devices, beside the same tasks run by Nornir directly.

`--devices` simulated IOS devices (the lab's asyncssh CLI) run in a child process. The playbook
(show version, show ip interface brief with TextFSM, assert on the output) runs through genosd's
engine (batches, conditions, per-host results, run records, events), with the devices' host keys
already pinned (the daemon's steady state) and, separately, on first contact (every key scanned
and pinned during the run); the baseline in the same run is a plain Nornir task doing the same two
commands and the same check with netmiko, the same worker count, trusting any key, keeping
nothing. Rounds alternate; medians of wall time and the ratio are printed.

Run from the repository root:
    .venv/bin/python -m bench.playbook_overhead [--devices 500 --rounds 3 --workers 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.config_lifecycle import Fleet, _fleet

PLAYBOOK = """name: bench
steps:
  - show: {commands: [show version], parse: false}   # the baseline does not parse it either
    register: version
  - show: {commands: [show ip interface brief]}
    register: brief
  - assert: {that: ['version.output | length > 0', 'brief.parsed | length > 0']}
"""


def _setup(directory: Path, ports: Fleet, workers: int) -> tuple[Path, Path]:
    from tests.ssh_lab import write_setup

    return write_setup(
        directory,
        {name: port for name, (port, _) in ports.items()},
        settings=f"ssh: {{host_key_policy: accept-new, concurrency: {workers}}}\n",
    )


def bench_genosd(
    directory: Path, ports: Fleet, workers: int, known_hosts: str = ""
) -> tuple[float, str]:
    """Wall time of one engine run over every device, and the pinned keys after it.

    With `known_hosts` the keys are pinned beforehand (the daemon's steady state); empty, every
    key is scanned and pinned during the run (first contact).
    """
    from genosd.app.core import tool_core
    from genosd.app.playbook_engine import finish_run
    from genosd.app.playbooks import begin
    from genosd.app.snapshot import Sources, load_snapshot
    from genosd.playbooks.loader import load_playbook

    config, secrets = _setup(directory, ports, workers)
    (directory / "bench.yaml").write_text(PLAYBOOK)
    playbook = load_playbook(directory / "bench.yaml")
    snapshot = load_snapshot(Sources(config, None, (secrets,)))

    async def run() -> tuple[float, str]:
        async with tool_core(snapshot) as core:
            path = core.known_hosts.path
            if known_hosts:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(known_hosts)
            started = time.perf_counter()
            record = await begin(core, playbook, {}, actor="bench")
            record = await finish_run(core, playbook, record)
            wall = time.perf_counter() - started
        assert record.status == "ok", (record.status, record.failed_hosts[:3])
        return wall, path.read_text()

    return asyncio.run(run())


def bench_nornir(ports: Fleet, workers: int) -> float:
    """Wall time of the same two commands and check as one plain Nornir task."""
    from nornir.core.task import Result, Task

    from genosd.collectors.facts import parse
    from genosd.platforms import platform as platform_named
    from genosd.ssh.nornir import nornir_for
    from genosd.ssh.target import SshTarget
    from tests.ssh_lab import PASSWORD, SECRET, USER

    ios = platform_named("ios")
    targets = [
        SshTarget(name, "127.0.0.1", port, ios, USER, PASSWORD, SECRET, timeout=60)
        for name, (port, _) in ports.items()
    ]

    def task(task: Task) -> Result:
        connection = task.host.get_connection("netmiko", task.nornir.config)
        version = connection.send_command("show version")
        brief = parse(
            ios, "show ip interface brief", connection.send_command("show ip interface brief")
        )
        return Result(host=task.host, failed=not (version and brief))

    with tempfile.TemporaryDirectory() as known:
        started = time.perf_counter()
        nr = nornir_for(targets, Path(known) / "known_hosts", workers)
        for host in nr.inventory.hosts.values():  # the baseline trusts any key: less work
            options = host.connection_options["netmiko"]
            options.extras = {**(options.extras or {}), "ssh_strict": False, "alt_host_keys": False}
        try:
            results = nr.run(task=task)
        finally:
            nr.close_connections()
        wall = time.perf_counter() - started
    assert not results.failed, list(results.failed_hosts)[:3]
    return wall


def main() -> None:
    """Run the side-by-side benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=20)
    args = parser.parse_args()
    proc, ports = _fleet(args.devices, ["ios"])
    walls: dict[str, list[float]] = {"genosd": [], "genosd_first_contact": [], "nornir": []}
    try:
        for n in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="genosd-bench-") as tmp:
                wall, pinned = bench_genosd(Path(tmp), ports, args.workers)
                walls["genosd_first_contact"].append(wall)
            with tempfile.TemporaryDirectory(prefix="genosd-bench-") as tmp:
                walls["genosd"].append(bench_genosd(Path(tmp), ports, args.workers, pinned)[0])
            walls["nornir"].append(bench_nornir(ports, args.workers))
            print(f"round {n + 1}: {json.dumps({k: round(v[-1], 2) for k, v in walls.items()})}")
    finally:
        proc.terminate()
    genosd, nornir = statistics.median(walls["genosd"]), statistics.median(walls["nornir"])
    first = statistics.median(walls["genosd_first_contact"])
    print(
        f"{args.devices} devices, {args.workers} workers, medians of {args.rounds}: "
        f"genosd {genosd:.2f} s (keys pinned), plain Nornir {nornir:.2f} s, overhead "
        f"{(genosd / nornir - 1) * 100:+.1f}% (target < +10%); first contact (every key "
        f"scanned and pinned) {first:.2f} s, {(first / nornir - 1) * 100:+.1f}%"
    )


if __name__ == "__main__":
    main()
