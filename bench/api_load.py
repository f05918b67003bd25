"""The API under load vs a bare aiohttp "hello" handler, in one run (issue 4).

Servers run as their own processes: the genosd daemon (1,000 inventory devices, one of them polled
from a local snmpd so that poll events exist) and a bare aiohttp app answering "hello". This
process is the load client:

1. open-loop HTTP load at `--rate` requests/s for `--seconds` against each server in turn
   (`GET /api/v1/devices` with an API key, 100 devices per page, and `?limit=1000` for the whole
   inventory), latency measured from each request's scheduled send time, so a stalled server
   cannot hide its queueing delay;
2. `--ws-clients` WebSocket clients subscribe to `poll.result`; while they are connected the HTTP
   load runs again, and `POST /devices/{name}/poll` events are timed from publication to receipt
   at every client (fan-out latency);
3. RSS of both servers at idle, after the HTTP load, and with the WebSocket clients attached.

Run from the repository root:  .venv/bin/python -m bench.api_load [--rate 1000 --seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.servers import free_tcp_port, start_snmpd, wait_http

HELLO_SERVER = """
import sys
from aiohttp import web
async def hello(request):
    return web.json_response({"hello": "world"})
app = web.Application()
app.router.add_get("/hello", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def rss_mib(pid: int) -> float:
    """Resident set size of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_daemon_setup(directory: Path, devices: int, snmp_port: int, api_port: int) -> Path:
    inventory = directory / "inventory"
    inventory.mkdir()
    hosts = [
        f"sw{n:04d}: {{hostname: 10.{n // 250}.{n % 250}.1, platform: ios, groups: [site{n % 20}], "
        f"data: {{tags: [bench, rack{n % 50}], site: s{n % 20}}}}}"
        for n in range(1, devices)
    ]
    hosts.append(
        f"polled: {{hostname: 127.0.0.1, platform: ios, data: {{snmp: {{port: {snmp_port}, "
        f"version: '2c', credential: ro, interval: 3600}}}}}}"
    )
    (inventory / "hosts.yaml").write_text("\n".join(hosts) + "\n")
    (inventory / "groups.yaml").write_text("".join(f"site{n}: {{}}\n" for n in range(20)))
    (directory / "secrets").mkdir(exist_ok=True)
    (directory / "secrets" / "credentials__ro__community").write_text("public")
    config = directory / "genosd.yaml"
    config.write_text(
        f"state_dir: {directory / 'state'}\ninventory_dir: {inventory}\n"
        f"api: {{port: {api_port}, rate_limit_per_minute: 10000000, rate_limit_burst: 1000000}}\n"
        f"secrets_dir: {directory / 'secrets'}\nlog_level: WARNING\n"
    )
    return config


async def open_loop(url: str, headers: dict[str, str], rate: float, seconds: float) -> dict:
    """Send `rate` requests/s on schedule; latency counts from the scheduled time."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        total = int(rate * seconds)
        start = time.perf_counter() + 0.2

        async def one(n: int) -> None:
            nonlocal errors
            scheduled = start + n / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(one(n) for n in range(total)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": total,
        "achieved_rps": round(total / elapsed, 1),
        "errors": errors,
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


async def ws_fanout(base: str, secret: str, clients: int, polls: int) -> tuple[dict, list]:
    """Attach `clients` WebSocket subscribers; time poll events from publication to receipt."""
    auth = {"Authorization": f"Bearer {secret}"}
    session = aiohttp.ClientSession(headers=auth, connector=aiohttp.TCPConnector(limit=0))
    sockets = []
    started = time.perf_counter()
    for _ in range(clients):
        ws = await session.ws_connect(f"{base}/api/v1/events")
        await ws.receive_json()  # welcome
        await ws.send_json({"type": "subscribe", "topics": ["poll.result"]})
        await ws.receive_json()  # subscribed
        sockets.append(ws)
    connect_s = time.perf_counter() - started
    delays: list[float] = []

    async def receive(ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            message = await ws.receive_json()
            if message["type"] == "event":
                delays.append(time.time() - message["time"])
                return

    async with aiohttp.ClientSession(headers=auth) as control:
        for _ in range(polls):
            waiting = [asyncio.create_task(receive(ws)) for ws in sockets]
            async with control.post(f"{base}/api/v1/devices/polled/poll") as response:
                assert response.status == 200, await response.text()
            await asyncio.wait_for(asyncio.gather(*waiting), 30)
    delays.sort()
    figures = {
        "clients": clients,
        "connect_all_s": round(connect_s, 2),
        "deliveries": len(delays),
        "fanout_p50_ms": round(delays[len(delays) // 2] * 1000, 2),
        "fanout_p99_ms": round(delays[int(len(delays) * 0.99)] * 1000, 2),
    }
    return figures, [session, sockets]


@dataclass
class Servers:
    """The two servers under test and what the client needs to reach them."""

    daemon: subprocess.Popen[bytes]
    hello: subprocess.Popen[bytes]
    snmpd: subprocess.Popen[bytes]
    base: str
    hello_url: str
    viewer: str
    operator: str


def start_servers(directory: Path, devices: int) -> Servers:
    """snmpd, the daemon (with a viewer and an operator key) and the bare hello server."""
    (directory / "snmpd").mkdir()
    snmpd, snmp_port = start_snmpd(directory / "snmpd")
    api_port, hello_port = free_tcp_port(), free_tcp_port()
    config = write_daemon_setup(directory, devices, snmp_port, api_port)
    genosd = str(Path(sys.executable).parent / "genosd")
    secrets = {
        role: json.loads(
            subprocess.run(
                [genosd, "keys", "create", "--role", role, "--config", str(config), "--json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["secret"]
        for role in ("viewer", "operator")
    }
    daemon = subprocess.Popen(
        [genosd, "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    hello = subprocess.Popen([sys.executable, "-c", HELLO_SERVER, str(hello_port)])
    servers = Servers(
        daemon,
        hello,
        snmpd,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{hello_port}/hello",
        secrets["viewer"],
        secrets["operator"],
    )
    wait_http(f"{servers.base}/api/v1/health")
    wait_http(servers.hello_url)
    return servers


async def measure(args: argparse.Namespace, s: Servers) -> dict:
    """Every figure of one run."""
    base, hello_url = s.base, s.hello_url
    auth = {"Authorization": f"Bearer {s.viewer}"}
    result: dict = {"rate": args.rate, "seconds": args.seconds, "devices": args.devices}
    result["rss_idle_mib"] = {"genosd": rss_mib(s.daemon.pid), "hello": rss_mib(s.hello.pid)}
    rounds: dict[str, list[dict]] = {"hello": [], "devices_page": [], "devices_all": []}
    for _ in range(args.rounds):
        rounds["hello"].append(await open_loop(hello_url, {}, args.rate, args.seconds))
        rounds["devices_page"].append(
            await open_loop(f"{base}/api/v1/devices", auth, args.rate, args.seconds)
        )
        rounds["devices_all"].append(
            await open_loop(f"{base}/api/v1/devices?limit=1000", auth, args.all_rate, args.seconds)
        )
    result["http"] = {name: _median(r) for name, r in rounds.items()}
    result["http"]["devices_all"]["rate"] = args.all_rate
    result["rss_after_http_mib"] = {"genosd": rss_mib(s.daemon.pid), "hello": rss_mib(s.hello.pid)}
    fanout, keep = await ws_fanout(base, s.operator, args.ws_clients, args.polls)
    result["ws"] = fanout
    result["rss_with_ws_mib"] = {"genosd": rss_mib(s.daemon.pid)}
    result["http_with_ws"] = {
        "devices_page": await open_loop(f"{base}/api/v1/devices", auth, args.rate, args.seconds),
        "hello": await open_loop(hello_url, {}, args.rate, args.seconds),
    }
    session, sockets = keep
    for ws in sockets:
        await ws.close()
    await session.close()
    page, bare = result["http"]["devices_page"], result["http"]["hello"]
    result["ratio_p99_devices_page_vs_hello"] = round(page["p99_ms"] / bare["p99_ms"], 2)
    return result


def _median(rounds: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument(
        "--all-rate", type=float, default=50.0, help="rate for the 1,000-device page"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--ws-clients", type=int, default=500)
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genosd-api-bench-") as tmp:
        servers = start_servers(Path(tmp), args.devices)
        try:
            result = asyncio.run(measure(args, servers))
        finally:
            for proc in (servers.daemon, servers.hello, servers.snmpd):
                proc.terminate()
                proc.wait(timeout=30)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
