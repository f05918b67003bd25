"""genosd's SNMP poller vs Prometheus snmp_exporter: same snmpd, same workload, one run.

Workload (issue 2): sysDescr, sysObjectID, sysUpTime, sysName by GET, then six interface columns
(ifName, ifOperStatus, ifInErrors, ifOutErrors, ifHCInOctets, ifHCOutOctets) by GETBULK with
max-repetitions 25, `--concurrency` polls in flight. Rounds alternate between the two pollers so
machine noise hits both; the figures are medians over rounds.

* genosd: a worker process runs the daemon's hot path (poll_device -> Telegraf points -> line
  protocol) in a loop; its CPU is its own process time over the measured window.
* snmp_exporter: Debian `prometheus-snmp-exporter` with a hand-written module; a load client in
  this process scrapes `/snmp` with the same concurrency; its CPU is the exporter's own, from /proc.
  The load client's CPU is reported separately and is not charged to the exporter.

Varbinds are counted the same way for both: values that land in the result (4 scalars + 6 per
interface), read from the exporter's own `snmp_scrape_pdus_returned`.

Run from the repository root:  .venv/bin/python -m bench.snmp_poll [--seconds 10 --rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from genosd.collectors import snmp_mibs as mib
from genosd.collectors.snmp import PollProfile, poll_device
from genosd.collectors.snmp_client import SessionFactory
from genosd.inventory import SnmpTarget
from genosd.metrics.rates import CounterRates
from genosd.metrics.telegraf import poll_to_points
from genosd.settings_sections import SnmpCredential
from tests.servers import start_http_server, start_snmpd

MAX_REPETITIONS = 25
WORKLOAD_NAMES = (
    "ifName",
    "ifOperStatus",
    "ifInErrors",
    "ifOutErrors",
    "ifHCInOctets",
    "ifHCOutOctets",
)
COLUMNS = {c.name: c for c in (*mib.IF_TABLE, *mib.IFX_TABLE)}
WORKLOAD = tuple(COLUMNS[name] for name in WORKLOAD_NAMES)
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
V3_USER, V3_AUTH, V3_PRIV = "benchuser", "bench-auth-pass", "bench-priv-pass"
# genosd's protocol names -> net-snmp's createUser names (the exporter uses genosd's)
SNMPD_AUTH = {"MD5": "MD5", "SHA": "SHA", "SHA224": "SHA-224", "SHA256": "SHA-256"}
SNMPD_AUTH |= {"SHA384": "SHA-384", "SHA512": "SHA-512"}
SNMPD_PRIV = {"DES": "DES", "AES": "AES", "AES192": "AES192", "AES256": "AES256"}


def snmpd_user(auth: str, priv: str) -> str:
    """snmpd.conf lines for the workload's SNMPv3 user."""
    return (
        f'createUser {V3_USER} {SNMPD_AUTH[auth]} "{V3_AUTH}" {SNMPD_PRIV[priv]} "{V3_PRIV}"\n'
        f"rouser {V3_USER} priv\n"
    )


def credential(version: str, auth: str = "SHA", priv: str = "AES") -> SnmpCredential:
    """The credential of the workload for SNMP version 2c or 3 (authPriv)."""
    if version == "2c":
        return SnmpCredential(community=SecretStr("public"))
    return SnmpCredential(
        username=V3_USER,
        auth_protocol=auth,
        auth_key=SecretStr(V3_AUTH),
        priv_protocol=priv,
        priv_key=SecretStr(V3_PRIV),
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


# ---------------------------------------------------------------- genosd (worker process)


async def genosd_worker(
    port: int,
    version: str,
    seconds: float,
    concurrency: int,
    warmup: float,
    protocols: tuple[str, str],
) -> dict:
    """Poll in a loop with `concurrency` sessions; count polls, varbinds and own CPU."""
    factory = SessionFactory()
    target = SnmpTarget(
        address="127.0.0.1",
        port=port,
        version=version,  # type: ignore[arg-type]
        credential=credential(version, *protocols),
        timeout=2.0,
        retries=1,
        max_repetitions=MAX_REPETITIONS,
        interval=60,
    )
    profile = PollProfile(interfaces=WORKLOAD, cpu_memory=False)
    rates = CounterRates()
    counts: dict[str, float] = {
        "polls": 0,
        "failed": 0,
        "samples": 0,
        "wire_varbinds": 0,
        "lines": 0,
    }
    measuring = False

    async def loop(n: int, stop_at: float) -> None:
        session = factory.open(target)
        name = f"bench-{n}"
        while time.monotonic() < stop_at:
            poll = await poll_device(name, "127.0.0.1", session, MAX_REPETITIONS, profile)
            payload = "\n".join(filter(None, (p.to_line() for p in poll_to_points(poll, rates))))
            if not measuring:
                continue
            counts["polls"] += 1
            counts["failed"] += not poll.ok
            counts["wire_varbinds"] += poll.varbinds
            counts["samples"] += len(poll.system) + sum(len(r) for r in poll.interfaces.values())
            counts["lines"] += payload.count("\n") + 1
        session.close()

    start = time.monotonic()
    workers = [asyncio.create_task(loop(n, start + warmup + seconds)) for n in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.gather(*workers)
    counts["cpu"] = time.process_time() - cpu0
    counts["wall"] = time.monotonic() - wall0
    factory.close()
    return counts


def run_genosd(args: argparse.Namespace, port: int, agent_pid: int) -> dict:
    """One genosd round in a fresh worker process."""
    agent0 = cpu_seconds(agent_pid)
    out = subprocess.run(
        [
            *(args.worker_python, "-m", "bench.snmp_poll", "--worker", "--port", str(port)),
            *("--seconds", str(args.seconds), "--concurrency", str(args.concurrency)),
            *("--snmp-version", args.snmp_version, "--auth", args.auth, "--priv", args.priv),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict = json.loads(out.stdout)
    result["agent_cpu"] = cpu_seconds(agent_pid) - agent0
    return result


# ---------------------------------------------------------------- snmp_exporter


def exporter_auth(version: str, auth: str, priv: str) -> dict:
    """The exporter 0.21 `auth` block for the workload's credential."""
    if version == "2c":
        return {"community": "public"}
    return {
        "security_level": "authPriv",
        "username": V3_USER,
        "password": V3_AUTH,
        "auth_protocol": auth,
        "priv_protocol": priv,
        "priv_password": V3_PRIV,
    }


def exporter_config(
    path: Path,
    version: str,
    auth: str,
    priv: str,
    columns: Sequence[mib.Column] = WORKLOAD,
    walk: Sequence[str] | None = None,
) -> None:
    """A snmp_exporter 0.21 module for the workload (numeric OIDs: Debian ships no MIBs): the
    system scalars by GET, `columns` walked (one walk each unless `walk` names subtrees)."""
    exporter_type = {
        "text": "DisplayString",
        "oid": "OctetString",
        "counter32": "counter",
        "counter64": "counter",
    }
    metrics: list[dict[str, object]] = [
        {
            "name": c.name,
            "oid": c.oid.removesuffix(".0"),
            "type": exporter_type.get(c.kind, "gauge"),
        }
        for c in mib.SYSTEM
    ]
    metrics += [
        {
            "name": c.name,
            "oid": c.oid,
            "type": exporter_type.get(c.kind, "gauge"),
            "indexes": [{"labelname": "ifIndex", "type": "gauge"}],
        }
        for c in columns
    ]
    module = {
        "walk": list(walk) if walk is not None else [c.oid for c in columns],
        "get": [c.oid for c in mib.SYSTEM],
        "metrics": metrics,
        "version": 2 if version == "2c" else 3,
        "max_repetitions": MAX_REPETITIONS,
        "retries": 1,
        "timeout": "2s",
        "auth": exporter_auth(version, auth, priv),
    }
    path.write_text(json.dumps({"bench": module}, indent=1))  # JSON is YAML


@dataclass
class Exporter:
    """A running snmp_exporter."""

    process: subprocess.Popen[bytes]
    url: str


def start_exporter(directory: Path, version: str, auth: str, priv: str) -> Exporter:
    """snmp_exporter on a free port with the workload module."""
    config = directory / "snmp.yml"
    exporter_config(config, version, auth, priv)
    process, url = start_http_server(
        "prometheus-snmp-exporter",
        [f"--config.file={config}", "--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        "/metrics",
    )
    return Exporter(process, url)


def pdus_returned(body: str) -> int:
    """The exporter's own count of varbinds in a scrape."""
    for line in body.splitlines():
        if line.startswith("snmp_scrape_pdus_returned"):
            return int(float(line.split()[-1]))
    raise ValueError("snmp_scrape_pdus_returned missing: the scrape failed")


async def exporter_load(
    exporter: Exporter, agent_port: int, seconds: float, concurrency: int, warmup: float
) -> dict:
    """Scrape the exporter with `concurrency` clients; its CPU from /proc over the window."""
    url = f"{exporter.url}/snmp"
    params = {"target": f"127.0.0.1:{agent_port}", "module": "bench"}
    counts: dict[str, float] = {"polls": 0, "failed": 0, "samples": 0}
    measuring = False
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def loop(stop_at: float) -> None:
            while time.monotonic() < stop_at:
                async with client.get(url, params=params) as response:
                    body = await response.text()
                if not measuring:
                    continue
                counts["polls"] += 1
                try:
                    counts["samples"] += pdus_returned(body)
                except ValueError:
                    counts["failed"] += 1

        start = time.monotonic()
        workers = [asyncio.create_task(loop(start + warmup + seconds)) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        measuring = True
        cpu0, client0, wall0 = (
            cpu_seconds(exporter.process.pid),
            time.process_time(),
            time.monotonic(),
        )
        await asyncio.gather(*workers)
        counts["cpu"] = cpu_seconds(exporter.process.pid) - cpu0
        counts["client_cpu"] = time.process_time() - client0
        counts["wall"] = time.monotonic() - wall0
    return counts


def run_exporter(
    exporter: Exporter, port: int, seconds: float, concurrency: int, agent_pid: int
) -> dict:
    """One snmp_exporter round."""
    agent0 = cpu_seconds(agent_pid)
    result = asyncio.run(exporter_load(exporter, port, seconds, concurrency, warmup=1.0))
    result["agent_cpu"] = cpu_seconds(agent_pid) - agent0
    return result


# ---------------------------------------------------------------- report


def figures(round_: dict) -> dict:
    """polls/s, CPU ms per poll and CPU s per 1000 varbinds of one round."""
    polls = max(round_["polls"], 1)
    return {
        "polls_per_s": round_["polls"] / round_["wall"],
        "cpu_ms_per_poll": 1000 * round_["cpu"] / polls,
        "cpu_s_per_1000_varbinds": 1000 * round_["cpu"] / max(round_["samples"], 1),
        "agent_cpu_ms_per_poll": 1000 * round_["agent_cpu"] / polls,
        "varbinds_per_poll": round_["samples"] / polls,
        "failed": round_["failed"],
    }


def median_of(rounds: list[dict], key: str) -> float:
    """The median of one figure over rounds."""
    return statistics.median(figures(r)[key] for r in rounds)


def main() -> None:
    """Run the side-by-side benchmark, or one genosd worker round with --worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--snmp-version", choices=("2c", "3"), default="2c")
    parser.add_argument("--auth", choices=sorted(SNMPD_AUTH), default="SHA", help="SNMPv3 auth")
    parser.add_argument("--priv", choices=sorted(SNMPD_PRIV), default="AES", help="SNMPv3 priv")
    parser.add_argument(
        "--worker-python", default=sys.executable, help="the Python that runs genosd's rounds"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the raw rounds as JSON")
    args = parser.parse_args()
    if args.worker:
        result = asyncio.run(
            genosd_worker(
                args.port,
                args.snmp_version,
                args.seconds,
                args.concurrency,
                warmup=1.0,
                protocols=(args.auth, args.priv),
            )
        )
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="genosd-bench-") as tmp:
        agent, port = start_snmpd(Path(tmp), snmpd_user(args.auth, args.priv))
        exporter = start_exporter(Path(tmp), args.snmp_version, args.auth, args.priv)
        rounds: dict[str, list[dict]] = {"genosd": [], "snmp_exporter": []}
        try:
            for n in range(args.rounds):
                rounds["snmp_exporter"].append(
                    run_exporter(exporter, port, args.seconds, args.concurrency, agent.pid)
                )
                rounds["genosd"].append(run_genosd(args, port, agent.pid))
                print(f"round {n + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            exporter.process.kill()
            agent.kill()
    if args.json:
        print(json.dumps(rounds, indent=1))
    keys = ("polls_per_s", "cpu_ms_per_poll", "cpu_s_per_1000_varbinds", "agent_cpu_ms_per_poll")
    print(
        f"workload: SNMPv{args.snmp_version}"
        + (f" authPriv {args.auth}/{args.priv}" if args.snmp_version == "3" else "")
        + f", system + {len(WORKLOAD)} interface columns, "
        f"GETBULK {MAX_REPETITIONS}, "
        f"{args.concurrency} in flight, {args.rounds} x {args.seconds:.0f} s rounds (medians)"
    )
    print(f"{'':18}" + "".join(f"{k:>26}" for k in keys))
    for name, rs in rounds.items():
        print(f"{name:18}" + "".join(f"{median_of(rs, k):26.3f}" for k in keys))
    ratio_rate = median_of(rounds["genosd"], "polls_per_s") / median_of(
        rounds["snmp_exporter"], "polls_per_s"
    )
    ratio_cpu = median_of(rounds["genosd"], "cpu_s_per_1000_varbinds") / median_of(
        rounds["snmp_exporter"], "cpu_s_per_1000_varbinds"
    )
    client = statistics.median(
        1000 * r["client_cpu"] / max(r["polls"], 1) for r in rounds["snmp_exporter"]
    )
    print(
        f"genosd/exporter: polls/s x{ratio_rate:.2f}, CPU per varbind x{ratio_cpu:.2f} "
        f"(target: >= x1.00 and <= x1.50); exporter load client used {client:.2f} ms CPU/scrape"
    )
    print(
        "varbinds per poll: genosd "
        f"{median_of(rounds['genosd'], 'varbinds_per_poll'):.0f}, exporter "
        f"{median_of(rounds['snmp_exporter'], 'varbinds_per_poll'):.0f}; failed polls: genosd "
        f"{sum(r['failed'] for r in rounds['genosd'])}, exporter "
        f"{sum(r['failed'] for r in rounds['snmp_exporter'])}"
    )


if __name__ == "__main__":
    main()
