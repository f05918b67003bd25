"""SNMP client engines side by side on one agent: genosd.snmp against gufo-snmp (Rust, BSD-3).

Each engine runs in its own worker process with `--concurrency` sessions polling the same net-snmp
`snmpd` in a loop for `--seconds`: GET of sysDescr, sysObjectID, sysUpTime and sysName, then the six
interface columns of bench/snmp_poll.py walked with GETBULK (max-repetitions 25) — genosd in one
lock-step walk of all columns, gufo-snmp one walk per column (its API walks one subtree at a time).
Rounds alternate between engines; medians of polls/s, the worker's own CPU per poll, and snmpd's CPU
per poll (what each engine costs the device). gufo-snmp is not a genosd dependency: install it into
the venv (`pip install gufo-snmp`) to include it; it is skipped otherwise.

Run from the repository root:
    .venv/bin/python -m bench.snmp_engines [--snmp-version 3] [--seconds 8 --rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.snmp_poll import (
    MAX_REPETITIONS,
    V3_AUTH,
    V3_PRIV,
    V3_USER,
    WORKLOAD,
    cpu_seconds,
    snmpd_user,
)
from genosd.collectors import snmp_mibs as mib
from genosd.collectors.snmp_client import walk_columns
from genosd.snmp.client import Credentials, SnmpClient
from tests.servers import start_snmpd

SCALARS = [c.oid for c in mib.SYSTEM]
COLUMNS = [c.oid for c in WORKLOAD]


async def _genosd_poll(session: SnmpClient) -> int:
    values = len(await session.get(SCALARS))
    table = await walk_columns(session, COLUMNS, MAX_REPETITIONS)
    return values + sum(len(rows) for rows in table.values())


def _genosd_session(port: int, version: str) -> SnmpClient:
    if version == "2c":
        credentials = Credentials("2c", community=b"public")
    else:
        credentials = Credentials(
            "3",
            user=V3_USER.encode(),
            auth="SHA",
            auth_password=V3_AUTH.encode(),
            priv="AES",
            priv_password=V3_PRIV.encode(),
        )
    return SnmpClient("127.0.0.1", port, credentials, 2.0, 1)


async def _gufo_poll(session: object) -> int:
    values = len(await session.get_many(SCALARS))  # type: ignore[attr-defined]
    for column in COLUMNS:
        async for _ in session.getbulk(column):  # type: ignore[attr-defined]
            values += 1
    return values


def _gufo_session(port: int, version: str) -> object:
    from gufo.snmp import Aes128Key, Sha1Key, User
    from gufo.snmp.aio import SnmpSession

    if version == "2c":
        return SnmpSession("127.0.0.1", port, community="public", timeout=2.0)
    user = User(V3_USER, auth_key=Sha1Key(V3_AUTH.encode()), priv_key=Aes128Key(V3_PRIV.encode()))
    return SnmpSession("127.0.0.1", port, user=user, timeout=2.0)


async def worker(engine: str, port: int, version: str, seconds: float, concurrency: int) -> dict:
    """Poll in a loop; count polls and values and this process's CPU over the window."""
    make, poll = (
        (_genosd_session, _genosd_poll) if engine == "genosd" else (_gufo_session, _gufo_poll)
    )
    counts = {"polls": 0, "values": 0, "failed": 0}
    measuring = False

    async def loop(stop_at: float) -> None:
        session = make(port, version)
        if engine == "gufo-snmp":
            await session.refresh()  # type: ignore[attr-defined]  # v3 engine discovery
        while time.monotonic() < stop_at:
            try:
                values = await poll(session)  # type: ignore[arg-type]
            except Exception:
                values = -1
            if measuring:
                counts["polls"] += 1
                counts["values"] += max(values, 0)
                counts["failed"] += values < 0

    warmup = 1.0
    start = time.monotonic()
    tasks = [asyncio.create_task(loop(start + warmup + seconds)) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.gather(*tasks)
    return {**counts, "cpu": time.process_time() - cpu0, "wall": time.monotonic() - wall0}


def main() -> None:
    """Run the comparison, or one worker round with --worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--snmp-version", choices=("2c", "3"), default="2c")
    parser.add_argument("--worker", choices=("genosd", "gufo-snmp"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = asyncio.run(
            worker(args.worker, args.port, args.snmp_version, args.seconds, args.concurrency)
        )
        print(json.dumps(result))
        return
    engines = ["genosd"] + (["gufo-snmp"] if importlib.util.find_spec("gufo") else [])
    rounds: dict[str, list[dict]] = {engine: [] for engine in engines}
    with tempfile.TemporaryDirectory(prefix="genosd-bench-") as tmp:
        agent, port = start_snmpd(Path(tmp), snmpd_user("SHA", "AES"))
        try:
            for n in range(args.rounds):
                for engine in engines:
                    agent0 = cpu_seconds(agent.pid)
                    out = subprocess.run(
                        [
                            *(sys.executable, "-m", "bench.snmp_engines", "--worker", engine),
                            *("--port", str(port), "--snmp-version", args.snmp_version),
                            *("--seconds", str(args.seconds)),
                            *("--concurrency", str(args.concurrency)),
                        ],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    result = json.loads(out.stdout)
                    result["agent_cpu"] = cpu_seconds(agent.pid) - agent0
                    rounds[engine].append(result)
                print(f"round {n + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            agent.kill()
    print(
        f"SNMPv{args.snmp_version}, {len(SCALARS)} scalars + {len(COLUMNS)} columns, "
        f"{args.concurrency} in flight, medians of {args.rounds} x {args.seconds:.0f} s"
    )
    header = ("polls/s", "CPU ms/poll", "agent CPU ms/poll", "values/poll", "failed")
    print(f"{'':12}" + "".join(f"{h:>20}" for h in header))
    for engine, rs in rounds.items():
        figures = [
            statistics.median(r["polls"] / r["wall"] for r in rs),
            statistics.median(1000 * r["cpu"] / max(r["polls"], 1) for r in rs),
            statistics.median(1000 * r["agent_cpu"] / max(r["polls"], 1) for r in rs),
            statistics.median(r["values"] / max(r["polls"], 1) for r in rs),
            sum(r["failed"] for r in rs),
        ]
        print(f"{engine:12}" + "".join(f"{f:20.3f}" for f in figures))


if __name__ == "__main__":
    main()
