"""An authenticated client's latency while 2,000 unauthenticated requests and 2,000 unauthenticated
WebSockets arrive, vs the same client alone, in one run (issue 13).

The daemon runs as its own process (1,000 inventory devices; api_load's set-up). This process is
the load client. Rounds alternate:

- alone: an authenticated open-loop `GET /api/v1/devices` at `--rate` requests/s for
  `--seconds`, nothing else;
- abuse: the same load while, from another address (127.0.0.2), 2,000 `POST`s with an 8 KB path and no key
  (100 in flight) and 2,000 WebSocket upgrades that never authenticate (200 in flight, each held
  until the server closes it) are sent, and an authenticated WebSocket connects every 0.5 s (time
  to its `welcome` recorded, and whether it got in at all);
- the peer: a bare aiohttp app answering "hello" (api_load's), loaded and flooded the same way, so
  the figure shows what this 2-core machine costs any aiohttp server under that flood.

Latency counts from each request's scheduled send time. Audit rows written by the abuse are
counted in the state database. Run:  .venv/bin/python -m bench.api_abuse [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.api_load import Servers, open_loop, start_servers
from genosd.statedb import state_db_path

FLOOD_ADDRESS = (
    "127.0.0.2"  # another loopback address: the flood is one client, the keyed one another
)


async def flood_requests(base: str, count: int, in_flight: int) -> dict[int, int]:
    """`count` POSTs without a key, with an 8 KB path; answers by status."""
    statuses: dict[int, int] = {}
    path = "/api/v1/devices/" + "x" * 8000 + "/poll"
    gate = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=in_flight, local_addr=(FLOOD_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with gate:
                try:
                    async with session.post(base + path) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                except aiohttp.ClientError:
                    statuses[0] = statuses.get(0, 0) + 1

        await asyncio.gather(*(one() for _ in range(count)))
    return statuses


async def flood_sockets(base: str, count: int, in_flight: int) -> dict[str, int]:
    """`count` WebSockets that never authenticate: refused by status, or held until closed."""
    outcome: dict[str, int] = {}
    gate = asyncio.Semaphore(in_flight)
    url = base.replace("http", "ws") + "/api/v1/events"
    connector = aiohttp.TCPConnector(limit=0, local_addr=(FLOOD_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with gate:
                try:
                    async with session.ws_connect(url) as ws:
                        async for _ in ws:  # the welcome, then the close at the auth deadline
                            pass
                        key = "opened, closed by the server"
                except aiohttp.WSServerHandshakeError as exc:
                    key = f"refused {exc.status}"
                except aiohttp.ClientError:
                    key = "error"
                outcome[key] = outcome.get(key, 0) + 1

        await asyncio.gather(*(one() for _ in range(count)))
    return outcome


async def authenticated_sockets(base: str, secret: str, stop: asyncio.Event) -> list[float | None]:
    """Connect with a key every 0.5 s until `stop`: seconds to the welcome, None if refused."""
    times: list[float | None] = []
    url = base.replace("http", "ws") + "/api/v1/events"
    headers = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                async with session.ws_connect(url, headers=headers) as ws:
                    message = await ws.receive_json(timeout=10)
                    ok = message.get("type") == "welcome"
                    times.append(time.perf_counter() - started if ok else None)
            except (aiohttp.ClientError, TimeoutError):
                times.append(None)
            await asyncio.sleep(0.5)
    return times


async def flood(base: str, count: int) -> tuple[dict[int, int], dict[str, int]]:
    """Both floods at once."""
    return await asyncio.gather(flood_requests(base, count, 100), flood_sockets(base, count, 200))


def audit_rows(state_dir: Path) -> int:
    db = sqlite3.connect(f"file:{state_db_path(state_dir)}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
    finally:
        db.close()


async def flooded_load(
    url: str, headers: dict[str, str], base: str, args: argparse.Namespace
) -> tuple[dict, float, list]:
    """The open-loop load on `url`, with both floods sent to `base` one second in."""
    load = asyncio.create_task(open_loop(url, headers, args.rate, args.seconds))
    await asyncio.sleep(1.0)
    started = time.perf_counter()
    # the flood runs in its own process: its client work must not delay the measuring loop
    command = [sys.executable, "-m", "bench.api_abuse", "--flood", base]
    command += ["--count", str(args.count)]
    flooded = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, check=True
    )
    flood_seconds = time.perf_counter() - started
    return await load, flood_seconds, json.loads(flooded.stdout)


async def abuse_round(args: argparse.Namespace, s: Servers, state_dir: Path) -> dict:
    """The authenticated load with both floods running beside it."""
    auth = {"Authorization": f"Bearer {s.viewer}"}
    rows_before = audit_rows(state_dir)
    stop = asyncio.Event()
    watcher = asyncio.create_task(authenticated_sockets(s.base, s.viewer, stop))
    url = f"{s.base}/api/v1/devices"
    measured, flood_seconds, (requests, sockets) = await flooded_load(url, auth, s.base, args)
    stop.set()
    welcomes = await watcher
    await asyncio.sleep(65)  # the refusal aggregator writes its rows once a minute
    got_in = [t for t in welcomes if t is not None]
    return {
        **measured,
        "flood_seconds": round(flood_seconds, 2),
        "unauthenticated_requests": requests,
        "unauthenticated_sockets": sockets,
        "authenticated_ws_attempts": len(welcomes),
        "authenticated_ws_refused": len(welcomes) - len(got_in),
        "authenticated_ws_welcome_max_ms": round(max(got_in, default=0.0) * 1000, 1),
        "audit_rows_added": audit_rows(state_dir) - rows_before,
    }


async def measure(args: argparse.Namespace, s: Servers, state_dir: Path) -> dict:
    """Every figure of one run: rounds alternate alone, flooded, and the flooded peer."""
    alone, abuse, hello = [], [], []
    auth = {"Authorization": f"Bearer {s.viewer}"}
    hello_base = s.hello_url.rsplit("/", 1)[0]
    for _ in range(args.rounds):
        alone.append(await open_loop(f"{s.base}/api/v1/devices", auth, args.rate, args.seconds))
        abuse.append(await abuse_round(args, s, state_dir))
        # the peer: a bare aiohttp app answering "hello", under the same flood (it answers 404)
        hello.append((await flooded_load(s.hello_url, {}, hello_base, args))[0])
    keys = ("p50_ms", "p99_ms", "max_ms")
    runs = {"genosd alone": alone, "genosd flooded": abuse, "hello flooded": hello}
    figures = {
        name: {k: statistics.median(r[k] for r in got) for k in keys} for name, got in runs.items()
    }
    flooded = figures["genosd flooded"]["p99_ms"]
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "count": args.count,
        "medians": figures,
        "p99_flooded_vs_alone": round(flooded / figures["genosd alone"]["p99_ms"], 2),
        "p99_flooded_vs_hello_flooded": round(flooded / figures["hello flooded"]["p99_ms"], 2),
        "rounds": abuse,
    }


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--flood", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:  # the flood process of an abuse round
        print(json.dumps(asyncio.run(flood(args.flood, args.count))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        servers = start_servers(Path(tmp), args.devices)
        try:
            result = asyncio.run(measure(args, servers, Path(tmp) / "state"))
        finally:
            for process in (servers.daemon, servers.hello, servers.snmpd):
                process.terminate()
                process.wait(10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
