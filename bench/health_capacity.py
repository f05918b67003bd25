"""Health scores and capacity for a large fleet, read from a real InfluxDB 1.x (issue 23).

    python -m bench.health_capacity --devices 10000 --interfaces 48 --days 30 --rounds 3

The data: per interface one point per day for `--days` days (the daily utilisation a rollup
keeps: `in_utilization`/`out_utilization` in the Telegraf schema, tags `device`, `ifName`), plus
the newest CPU, memory, poll result and per-interface errors/status of every device. genosd's
capacity (`daily_from_influx` + `DailyTable.analyse` + the rankings) and health (`influx_metrics`
+ scores + group scores) each run in a fresh process, so their peak memory is their own.

The reference, in the same run and alternating with genosd: a bare client posting the same
InfluxQL and reading every byte of the answer without looking at it — what InfluxDB and the
transfer cost. The ratio is what genosd adds on top.
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
from pathlib import Path

import aiohttp

from genosd.capacity.forecast import DAY

INTERVAL_GROUPS = 20


def _lines(devices: int, interfaces: int, days: int, now: float, seed: int = 1):  # type: ignore[no-untyped-def]
    """Line protocol batches: daily utilisation, then the newest vitals."""
    import random

    rng = random.Random(seed)
    start = int(now // DAY * DAY) - (days - 1) * int(DAY)
    batch: list[str] = []
    for d in range(devices):
        device = f"dev{d:05d}"
        for i in range(interfaces):
            base = rng.uniform(5, 60)
            slope = rng.uniform(-0.3, 1.2)
            name = f"Ethernet1/{i + 1}"
            for day in range(days):
                ts = (start + day * int(DAY) + 14 * 3600) * 10**9
                if ts > now * 1e9:
                    ts = int((now - 60) * 1e9)
                value = max(0.0, min(100.0, base + slope * day + rng.gauss(0, 2)))
                batch.append(
                    f"interface,device={device},ifName={name} "
                    f"in_utilization={value:.2f},out_utilization={value * 0.7:.2f} {ts}"
                )
            recent = int((now - 30) * 1e9)
            errors = 0.5 if rng.random() < 0.01 else 0.0
            oper = 2 if rng.random() < 0.005 else 1
            batch.append(
                f"interface,device={device},ifName={name} in_errors_rate={errors},"
                f"out_errors_rate=0,ifOperStatus={oper}i,ifAdminStatus=1i {recent}"
            )
        recent = int((now - 30) * 1e9)
        batch += [
            f"snmp_cpu,device={device},cpu=1 load_percent={rng.uniform(2, 99):.1f} {recent}",
            f"snmp_mem,device={device},pool=proc used_percent={rng.uniform(20, 95):.1f} {recent}",
            f"genosd_poll,device={device} success={'false' if rng.random() < 0.01 else 'true'} {recent}",
        ]
        if len(batch) >= 50_000:
            yield batch
            batch = []
    if batch:
        yield batch


def load(url: str, devices: int, interfaces: int, days: int, now: float) -> tuple[int, float]:
    """Write the data set; (points, seconds)."""
    import httpx

    httpx.post(url + "/query", params={"q": "CREATE DATABASE telegraf"}, timeout=30)
    started = time.monotonic()
    points = 0
    with httpx.Client(timeout=600) as client:
        for batch in _lines(devices, interfaces, days, now):
            client.post(
                url + "/write", params={"db": "telegraf"}, content="\n".join(batch)
            ).raise_for_status()
            points += len(batch)
    return points, time.monotonic() - started


def _settings(url: str):  # type: ignore[no-untyped-def]
    from genosd.settings_sections import InfluxSettings

    return InfluxSettings(url=url, api="v1", database="telegraf", timeout=300)


async def _capacity(url: str, days: int, now: float) -> dict[str, object]:
    from genosd.capacity.analysis import crossing_within, top_growth
    from genosd.capacity.sources import daily_from_influx
    from genosd.metrics.influx_query import InfluxQuery

    query = InfluxQuery(_settings(url))
    try:
        table = await daily_from_influx(query, days, now)
    finally:
        await query.close()
    links = table.analyse(80.0, now)
    soon = crossing_within(links, 90)
    top = top_growth(links, 50)
    return {
        "links": len(links),
        "crossing": len(soon),
        "top": top[0].slope_per_day if top else None,
    }


async def _health(url: str, devices: int) -> dict[str, object]:
    from genosd.app.health import influx_metrics
    from genosd.health.scores import Inputs, group_scores, score
    from genosd.metrics.influx_query import InfluxQuery

    query = InfluxQuery(_settings(url))
    try:
        metrics = await influx_metrics(query)
    finally:
        await query.close()
    groups: dict[str, tuple[str, ...]] = {
        f"dev{d:05d}": (f"g{d % INTERVAL_GROUPS}",) for d in range(devices)
    }
    scores = []
    for name, seen in metrics.items():
        scores.append(
            score(
                Inputs(
                    name,
                    groups.get(name, ()),
                    seen["polled"],
                    None,
                    seen["cpu"],
                    seen["memory"],
                    seen["errors"],
                    seen["down"],
                )
            )
        )
    by_group = group_scores(scores, groups)
    return {"devices": len(scores), "groups": len(by_group)}


def _reference_queries(kind: str, days: int, now: float) -> list[str]:
    from genosd.capacity.sources import samples_query

    if kind == "capacity":
        start = now - (days - 1) * DAY
        return [samples_query("interface", start - start % DAY)]
    since = "now() - 900s"
    return [
        f'SELECT "load_percent", "device", "cpu" FROM "snmp_cpu" WHERE time > {since}',
        f'SELECT "used_percent", "device", "pool" FROM "snmp_mem" WHERE time > {since}',
        'SELECT "in_errors_rate", "out_errors_rate", "ifOperStatus", "ifAdminStatus", "device", '
        f'"ifName" FROM "interface" WHERE time > {since}',
        f'SELECT "success", "device" FROM "genosd_poll" WHERE time > {since}',
    ]


async def _reference(url: str, kind: str, days: int, now: float) -> dict[str, object]:
    total = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        for q in _reference_queries(kind, days, now):
            params = {"db": "telegraf", "epoch": "s", "chunked": "true", "chunk_size": "10000"}
            async with session.post(url + "/query", params=params, data={"q": q}) as response:
                async for part in response.content.iter_any():
                    total += len(part)
    return {"bytes": total}


def worker(args: argparse.Namespace) -> None:
    """One measured run in this process: print seconds, peak RSS and what it found."""
    import genosd.app.health
    import genosd.capacity.sources  # noqa: F401 - imported before the clock starts

    started = time.monotonic()
    if args.worker == "capacity":
        found = asyncio.run(_capacity(args.url, args.days, args.now))
    elif args.worker == "health":
        found = asyncio.run(_health(args.url, args.devices))
    else:
        kind = args.worker.removeprefix("reference-")
        found = asyncio.run(_reference(args.url, kind, args.days, args.now))
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, **found}))


def _run(kind: str, args: argparse.Namespace, url: str, now: float) -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.health_capacity",
            "--worker",
            kind,
            "--url",
            url,
            "--now",
            str(now),
            "--days",
            str(args.days),
            "--devices",
            str(args.devices),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Load the data set once, then alternate reference and genosd runs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interfaces", type=int, default=48)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", default=None)
    parser.add_argument("--url", default=None)
    parser.add_argument("--now", type=float, default=None)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    from tests.servers import InfluxV1, free_tcp_port

    now = time.time()
    with tempfile.TemporaryDirectory(prefix="genosd-bench-") as scratch:
        influx = InfluxV1(Path(scratch), free_tcp_port())
        influx.http_extra = "  max-body-size = 0\n  max-row-limit = 0\n"
        (Path(scratch) / "conf-extra").write_text("")
        influx.start()
        try:
            points, seconds = load(influx.url, args.devices, args.interfaces, args.days, now)
            print(f"loaded {points:,} points in {seconds:.0f} s", flush=True)
            results: dict[str, list[dict[str, float]]] = {}
            for round_ in range(args.rounds):
                for kind in ("reference-capacity", "capacity", "reference-health", "health"):
                    found = _run(kind, args, influx.url, now)
                    results.setdefault(kind, []).append(found)
                    print(f"round {round_ + 1} {kind}: {found}", flush=True)
        finally:
            influx.stop()
    print()
    print("| run | median s | peak RSS MiB | ratio to reference |")
    print("|---|---:|---:|---:|")
    for kind in ("capacity", "health"):
        ours = statistics.median(r["seconds"] for r in results[kind])
        ref = statistics.median(r["seconds"] for r in results[f"reference-{kind}"])
        peak = max(r["peak_mib"] for r in results[kind])
        ref_peak = max(r["peak_mib"] for r in results[f"reference-{kind}"])
        print(f"| reference {kind} (bare InfluxQL read) | {ref:.1f} | {ref_peak:.0f} | |")
        print(f"| genosd {kind} | {ours:.1f} | {peak:.0f} | x{ours / ref:.2f} |")


if __name__ == "__main__":
    main()
