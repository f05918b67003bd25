"""10,000 SNMP devices a minute on one machine: genosd beside snmp_exporter (issue 22).

Three processes, each measured on its own (CPU from /proc):
* the agents: `genosd.lab.responder`, one UDP socket per simulated device on 127.1.x.y, the
  system group and 3 interfaces of ifTable/ifXTable (a poll reads ~55 varbinds);
* the poller under test;
* VictoriaMetrics, where genosd writes (InfluxDB line protocol on /api/v2/write).

Phase 1 runs `genosd run` on an inventory of `--devices` hosts polled every `--interval` seconds
for `--seconds`, then reads its own /metrics: polls, how late each started after its slot (a
histogram), poll durations, points produced and written, spool; its CPU and RSS from /proc.

Phase 2 runs Debian's prometheus-snmp-exporter on the same agents: a load client scrapes
`/snmp?target=…` for every device on the same grid (the device's phase in the interval), at
most `--concurrency` at once (genosd's poller.concurrency), for `--exporter-seconds`; the same
figures from the client's side and the exporter's CPU.

Run from the repository root:  .venv/bin/python -m bench.scale [--devices 10000 --seconds 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
from bench.snmp_poll import cpu_seconds, exporter_config
from genosd.collectors import snmp_mibs as mib
from genosd.collectors.scheduler import next_slot, phase_of
from genosd.lab.responder import simulated
from genosd.processes import raise_open_files_limit
from tests.servers import free_tcp_port, start_http_server, start_victoria, wait_http

FIRST = "127.1.0.1"
ON_TIME = 5.0  # seconds after its slot a poll may start and count as on time


def start_agents(count: int, port: int, record: Path | None = None) -> subprocess.Popen[str]:
    """The responder with `count` devices, ready when it says so (`record`: poll times, at exit)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genosd.lab.responder",
            *("--first", FIRST, "--count", str(count)),
            *("--port", str(port)),
            *(("--record", str(record)) if record else ()),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError(f"responder failed: {line!r}")
    return process


def write_setup(
    directory: Path,
    devices: int,
    agent_port: int,
    args: argparse.Namespace,
    vm: str,
    extra: str = "",
) -> Path:
    """Settings and a `devices`-host inventory for the responder's devices."""
    inventory = directory / "inventory"
    inventory.mkdir(exist_ok=True)
    with open(inventory / "hosts.yaml", "w") as hosts:
        for device in simulated(FIRST, devices):
            hosts.write(f"{device.name}: {{hostname: {device.address}, groups: [sim]}}\n")
    (inventory / "groups.yaml").write_text("sim: {}\n")
    (inventory / "defaults.yaml").write_text(
        f"data:\n  snmp: {{version: '2c', credential: ro, port: {agent_port}, "
        f"interval: {args.interval}, timeout: 2, retries: 1}}\n"
    )
    (directory / "secrets").mkdir(exist_ok=True)
    (directory / "secrets" / "credentials__ro__community").write_text("public")
    config = directory / "genosd.yaml"
    config.write_text(
        f"inventory_dir: {inventory}\n"
        f"secrets_dir: {directory / 'secrets'}\nlog_level: WARNING\n"
        f"poller: {{concurrency: {args.concurrency}}}\n"
        f"influx: {{url: '{vm}', api: v2, bucket: bench, org: bench}}\n"
        "ssh: {backup_schedule: '', facts_interval: 0}\n"
        "traps: {enabled: false}\nsyslog: {enabled: false}\n" + extra
    )
    return config


def prometheus_values(text: str) -> dict[str, float]:
    """Sample name with labels → value, from Prometheus text."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def histogram_share(values: dict[str, float], name: str, le: str) -> float:
    """The share of a histogram's observations at or below bucket `le`."""
    total = values.get(f"{name}_count", 0.0)
    return values.get(f'{name}_bucket{{le="{le}"}}', 0.0) / total if total else float("nan")


def histogram_quantile(values: dict[str, float], name: str, q: float) -> float:
    """The upper bound of the bucket holding quantile `q` (Prometheus' resolution)."""
    total = values.get(f"{name}_count", 0.0)
    buckets = sorted(
        (float(key.split('le="')[1].rstrip('"}')), count)
        for key, count in values.items()
        if key.startswith(f"{name}_bucket") and "+Inf" not in key
    )
    for bound, count in buckets:
        if total and count / total >= q:
            return bound
    return float("inf")


async def sample_rss(pid: int, seconds: float) -> list[float]:
    """The process's RSS every 5 s."""
    samples = []
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        samples.append(rss_mib(pid))
        await asyncio.sleep(5)
    return samples


GENOSD = str(Path(sys.executable).parent / "genosd")


def start_node(
    directory: Path, config: Path, name: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int, str]:
    """`genosd run` with a state directory and API port of its own, and a viewer key for it."""
    port = free_tcp_port()
    environment = {
        **os.environ,
        "GENOSD_STATE_DIR": str(directory / f"state-{name}"),
        "GENOSD_API__PORT": str(port),
        **(env or {}),
    }
    created = subprocess.run(
        [GENOSD, "keys", "create", "--role", "viewer", "--config", str(config), "--json"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    log = directory / f"{name}.log"
    with open(log, "wb") as stream:
        process = subprocess.Popen(
            [GENOSD, "run", "--config", str(config)], stderr=stream, env=environment
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v1/health", timeout=300)
    except RuntimeError:
        sys.stderr.write(log.read_text()[-3000:])
        raise
    return process, port, json.loads(created.stdout)["secret"]


async def api_under_load(port: int, key: str, seconds: float, rate: float) -> dict:
    """While the poller works: a WebSocket client counts poll.result events, and an open-loop
    client GETs a page of /api/v1/devices `rate` times a second."""
    headers = {"Authorization": f"Bearer {key}"}
    received = 0

    async def listen() -> None:
        nonlocal received
        url = f"http://127.0.0.1:{port}/api/v1/events"
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.ws_connect(url) as ws,
        ):
            await ws.receive_json()  # the welcome
            await ws.send_json({"type": "subscribe", "topics": ["poll.result"]})
            async for message in ws:
                if '"poll.result"' in message.data:
                    received += 1

    listener = asyncio.create_task(listen())
    url = f"http://127.0.0.1:{port}/api/v1/devices?limit=100"
    latency = await open_loop(url, headers, rate, seconds)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    return {"ws_poll_results": received, "devices_page": latency}


def run_genosd(
    directory: Path, args: argparse.Namespace, agent: subprocess.Popen[str], vm: str
) -> dict:
    """Phase 1: the daemon polls every device for `args.seconds` (after one interval's warm-up)."""
    config = write_setup(directory, args.devices, args.agent_port, args, vm)
    daemon, api_port, key = start_node(directory, config, "single")
    try:
        time.sleep(args.interval)  # the first polls spread off the grid; then on slots
        metrics_url = f"http://127.0.0.1:{api_port}/metrics"
        before = prometheus_values(_get(metrics_url))
        cpu0, agent0, wall0 = cpu_seconds(daemon.pid), cpu_seconds(agent.pid), time.monotonic()
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-p",
                    str(daemon.pid),
                    "-d",
                    str(int(args.seconds)),
                    *("-r", "50", "-f", "raw", "-o", args.profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        async def measure() -> tuple[list[float], dict]:
            return await asyncio.gather(
                sample_rss(daemon.pid, args.seconds),
                api_under_load(api_port, key, args.seconds, args.api_rate),
            )

        rss, api = asyncio.run(measure())
        if profiler is not None:
            profiler.wait(60)
        after = prometheus_values(_get(metrics_url))
        cpu, wall = cpu_seconds(daemon.pid) - cpu0, time.monotonic() - wall0
        agent_cpu = cpu_seconds(agent.pid) - agent0
        time.sleep(5)  # the last batch reaches the sink
        final = prometheus_values(_get(metrics_url))
    finally:
        daemon.terminate()
        daemon.wait(60)
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    polls = delta.get('genosd_polls_total{result="ok"}', 0) + delta.get(
        'genosd_polls_total{result="failed"}', 0
    )
    expected = args.devices * wall / args.interval
    varbinds = polls * args.varbinds_per_poll
    return {
        "polls": polls,
        "failed": delta.get('genosd_polls_total{result="failed"}', 0),
        "polls_per_s": polls / wall,
        "polls_of_slots": polls / expected,  # polls done / slots that passed (skips lower it)
        "on_time": histogram_share(delta, "genosd_poll_start_lag_seconds", "5.0"),
        "lag_p99_bucket": histogram_quantile(delta, "genosd_poll_start_lag_seconds", 0.99),
        "duration_p50_bucket": histogram_quantile(delta, "genosd_poll_duration_seconds", 0.5),
        "duration_p99_bucket": histogram_quantile(delta, "genosd_poll_duration_seconds", 0.99),
        "cpu_s": cpu,
        "cpu_s_per_1000_varbinds": cpu / varbinds * 1000 if varbinds else float("nan"),
        "agent_cpu_s": agent_cpu,
        "rss_mib_median": statistics.median(rss),
        "rss_mib_max": max(rss),
        "rss_kib_per_device": max(rss) * 1024 / args.devices,
        "api": api,
        "gc_full_collections": delta.get('genosd_gc_pause_seconds_count{generation="2"}', 0),
        "gc_full_pause_s": delta.get('genosd_gc_pause_seconds_sum{generation="2"}', 0),
        "points_produced": final.get("genosd_points_total", 0),
        "points_written": final.get("genosd_sink_points_written_total", 0),
        "spool_points": final.get("genosd_spool_points", 0),
    }


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def exporter_module(path: Path) -> None:
    """The same workload for snmp_exporter 0.21: system scalars by GET, ifTable/ifXTable walked."""
    columns = (*mib.IF_TABLE, *mib.IFX_TABLE)
    exporter_config(path, "2c", "", "", columns, ["1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"])


async def exporter_load(url: str, args: argparse.Namespace, seconds: float) -> dict:
    """Scrape every device on its slot, `args.concurrency` at once; lag, durations, varbinds."""
    devices = simulated(FIRST, args.devices)
    limit = asyncio.Semaphore(args.concurrency)
    lags: list[float] = []
    durations: list[float] = []
    counts = {"polls": 0.0, "failed": 0.0, "varbinds": 0.0}
    stop_at = time.time() + seconds
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def device_loop(name: str, address: str) -> None:
            phase = phase_of(name, args.interval)
            slot = next_slot(time.time(), args.interval, phase)
            while slot < stop_at:
                await asyncio.sleep(max(0.0, slot - time.time()))
                async with limit:
                    started = time.time()
                    params = {"target": f"{address}:{args.agent_port}", "module": "bench"}
                    try:
                        async with client.get(url, params=params) as response:
                            body = await response.text()
                        counts["varbinds"] += _pdus(body)
                    except (aiohttp.ClientError, ValueError):
                        counts["failed"] += 1
                    durations.append(time.time() - started)
                lags.append(started - slot)
                counts["polls"] += 1
                slot += args.interval

        await asyncio.gather(*(device_loop(d.name, d.address) for d in devices))
    return {"lags": lags, "durations": durations, **counts}


def _pdus(body: str) -> float:
    for line in body.splitlines():
        if line.startswith("snmp_scrape_pdus_returned"):
            return float(line.split()[-1])
    raise ValueError("scrape failed")


def run_exporter(directory: Path, args: argparse.Namespace, agent: subprocess.Popen[str]) -> dict:
    """Phase 2: snmp_exporter scraped on the same grid (client and exporter measured apart)."""
    exporter_module(directory / "snmp.yml")
    process, url = start_http_server(
        "prometheus-snmp-exporter",
        [
            f"--config.file={directory / 'snmp.yml'}",
            "--web.listen-address=127.0.0.1:{port}",
            *("--log.level=error",),
        ],
        "/metrics",
    )
    try:
        cpu0, agent0, wall0 = cpu_seconds(process.pid), cpu_seconds(agent.pid), time.monotonic()
        rss_task_result: list[float] = []

        async def both() -> dict:
            rss = asyncio.create_task(sample_rss(process.pid, args.exporter_seconds))
            load = await exporter_load(f"{url}/snmp", args, args.exporter_seconds)
            rss_task_result.extend(await rss)
            return load

        load = asyncio.run(both())
        cpu, wall = cpu_seconds(process.pid) - cpu0, time.monotonic() - wall0
        agent_cpu = cpu_seconds(agent.pid) - agent0
    finally:
        process.terminate()
        process.wait(30)
    lags, durations = sorted(load["lags"]), sorted(load["durations"])
    polls = load["polls"]
    return {
        "polls": polls,
        "failed": load["failed"],
        "polls_per_s": polls / wall,
        "on_time": sum(1 for lag in lags if lag <= ON_TIME) / len(lags) if lags else float("nan"),
        "lag_p99": lags[int(len(lags) * 0.99)] if lags else float("nan"),
        "duration_p50": durations[len(durations) // 2] if durations else float("nan"),
        "duration_p99": durations[int(len(durations) * 0.99)] if durations else float("nan"),
        "cpu_s": cpu,
        "cpu_s_per_1000_varbinds": cpu / load["varbinds"] * 1000
        if load["varbinds"]
        else float("nan"),
        "agent_cpu_s": agent_cpu,
        "rss_mib_max": max(rss_task_result) if rss_task_result else float("nan"),
    }


def _viewer_get(port: int, key: str, path: str) -> dict:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict = json.loads(response.read())
        return result


def slot_counts(
    polls: dict[str, list[float]], interval: float, since: float, until: float
) -> tuple[dict[tuple[str, int], int], list[tuple[str, int]]]:
    """Polls per (device, slot) and the slots wholly inside [since, until) nobody polled."""
    counts: dict[tuple[str, int], int] = {}
    missing: list[tuple[str, int]] = []
    for name, times in polls.items():
        phase = phase_of(name, interval)
        for at in times:
            if since <= at < until:
                key = (name, math.floor((at - phase) / interval))
                counts[key] = counts.get(key, 0) + 1
        first = math.ceil((since - phase) / interval)
        last = math.floor((until - phase) / interval) - 1
        missing.extend((name, k) for k in range(first, last + 1) if (name, k) not in counts)
    return counts, missing


def run_failover(directory: Path, args: argparse.Namespace, vm: str) -> dict:
    """Phase 3: `args.nodes` nodes share the devices through Redis; one is SIGKILLed; polls per
    device and slot from the agents' own record: lost, doubled, how long the moved devices waited."""
    from tests.servers import RedisServer, free_udp_port

    where = directory / "cluster"
    where.mkdir()
    port, record = free_udp_port(), where / "polls.json"
    agent = start_agents(args.devices, port, record)
    redis = RedisServer(where / "redis", free_tcp_port())
    redis.start()
    cluster = f"cluster: {{backend: redis, redis_url: '{redis.url}', heartbeat: 2, node_ttl: 10}}\n"
    config = write_setup(where, args.devices, port, args, vm, cluster)
    nodes = []
    try:
        for i in range(args.nodes):
            nodes.append(start_node(where, config, f"n{i}", {"GENOSD_CLUSTER__NODE": f"n{i}"}))
        time.sleep(args.interval)  # every node joined and polled a round
        _, port0, key0 = nodes[0]
        victim, _, _ = nodes[-1]
        name = f"n{args.nodes - 1}"
        before = _viewer_get(port0, key0, "/api/v1/cluster")
        moved = {
            d["device"]
            for d in _viewer_get(port0, key0, f"/api/v1/cluster/devices?node={name}")["items"]
        }
        start = time.time()
        cpu0 = [cpu_seconds(p.pid) for p, _, _ in nodes]
        time.sleep(args.interval)
        killed = time.time()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        time.sleep(args.failover_seconds)
        end = time.time()
        cpu = [cpu_seconds(p.pid) - c for (p, _, _), c in zip(nodes[:-1], cpu0[:-1], strict=True)]
        after = _viewer_get(port0, key0, "/api/v1/cluster")
    finally:
        for process, _, _ in nodes:
            if process.poll() is None:
                process.terminate()
                process.wait(60)
        agent.terminate()
        agent.wait(60)
        redis.stop()
    polls = json.loads(record.read_text())
    counts, missing = slot_counts(polls, args.interval, start, end)
    lost_before = [
        (device, k)
        for device, k in missing
        if k * args.interval + phase_of(device, args.interval) < killed
    ]
    waits = []
    for device in moved:
        later = [t for t in polls.get(device, []) if t > killed]
        waits.append(min(later) - killed if later else float("inf"))
    waits.sort()
    return {
        "nodes": args.nodes,
        "devices_per_node_before": {n["node"]: n["devices"] for n in before["nodes"]},
        "devices_per_node_after": {n["node"]: n["devices"] for n in after["nodes"]},
        "devices_moved": len(moved),
        "slots_checked": len(counts) + len(missing),
        "slots_doubled": sum(1 for n in counts.values() if n > 1),
        "slots_lost": len(missing),
        "slots_lost_before_kill": len(lost_before),
        "slots_lost_of_moved_devices": sum(1 for m in missing if m[0] in moved),
        "moved_first_poll_after_kill_s": {
            "p50": waits[len(waits) // 2] if waits else None,
            "max": waits[-1] if waits else None,
        },
        "survivor_cpu_s": cpu,
        "window_s": end - start,
    }


def main() -> None:
    """Both phases; print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--exporter-seconds", type=float, default=120.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--agent-port", type=int, default=1161)
    parser.add_argument("--varbinds-per-poll", type=int, default=55, help="4 system + 17 x 3")
    parser.add_argument("--skip-exporter", action="store_true")
    parser.add_argument("--api-rate", type=float, default=20.0, help="GET /devices per second")
    parser.add_argument("--nodes", type=int, default=0, help="also the failover phase: N nodes")
    parser.add_argument("--failover-seconds", type=float, default=240.0)
    parser.add_argument(
        "--workdir", help="keep settings, logs and state here (default: a temp dir)"
    )
    parser.add_argument("--profile", help="py-spy's raw (collapsed) profile of the daemon to here")
    args = parser.parse_args()
    raise_open_files_limit()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.workdir or tmp)
        directory.mkdir(parents=True, exist_ok=True)
        agent = start_agents(args.devices, args.agent_port)
        vm_process, vm = start_victoria(directory / "vm")
        try:
            result = {"genosd": run_genosd(directory, args, agent, vm)}
            if not args.skip_exporter:
                result["snmp_exporter"] = run_exporter(directory, args, agent)
            agent.terminate()
            agent.wait(30)
            if args.nodes:
                result["failover"] = run_failover(directory, args, vm)
        finally:
            agent.terminate()
            vm_process.terminate()
            agent.wait(30)
            vm_process.wait(30)
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "args": vars(args), **result}, indent=1))


if __name__ == "__main__":
    main()
