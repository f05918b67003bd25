"""The chat assistant under load, model time excluded: `genosd run` answers over its chat
WebSocket; the model is a stand-in speaking Ollama's API (bench/model_server.py) that takes a
fixed time per call; the clients run here. Three processes, so each one's work is its own. Every
answer calls one genosd tool (device_status), then streams a short answer.

1. Tool-call round trip, one answer at a time, model time 0: from the moment the model server
   has the tool-call reply ready to the moment genosd's next request (with the tool's result)
   arrives there: everything genosd does per tool call (parse, role check, validation, the
   tool, redaction, the audit entry, the next request), plus the HTTP hop both ways.
2. 50 conversations at once over the WebSocket, each answer = 2 model calls of --model-ms;
   beside the same 50 clients asking the model server directly (2 calls each, no genosd).

Run from the repository root:
    .venv/bin/python -m bench.chat_sessions [--sessions 50 --turns 5 --model-ms 250]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import ollama

from tests.servers import free_tcp_port

MODEL = "qwen2.5:7b"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def model_server(delay_ms: float, devices: int, gaps: list[float]) -> AsyncIterator[str]:
    """The stand-in model in its own process; its round trips land in `gaps` when it stops."""
    port = free_tcp_port()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.model_server", str(port), str(delay_ms), str(devices),
            out.name, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        await proc.stdout.readline()  # "ready"
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            await proc.wait()
            text = await asyncio.to_thread(Path(out.name).read_text)
            gaps.extend(json.loads(text or "[]"))


@contextlib.asynccontextmanager
async def daemon(model_url: str, devices: int) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """`genosd run` in its own process with `devices` inventory devices (the chat plugin
    loaded); (its chat WebSocket URL, a viewer key's headers)."""
    genosd = str(Path(sys.executable).parent / "genosd")
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "inventory").mkdir()
        (root / "inventory" / "hosts.yaml").write_text(
            "".join(
                f"d{n}: {{hostname: 10.0.{n // 250}.{n % 250 + 1}, platform: ios}}\n"
                for n in range(devices)
            )
        )
        port = free_tcp_port()
        config = root / "genosd.yaml"
        config.write_text(
            f"state_dir: {root / 'state'}\ninventory_dir: {root / 'inventory'}\n"
            f"llm: {{url: '{model_url}'}}\n"
            f"api: {{port: {port}, rate_limit_per_minute: 1000000, rate_limit_burst: 100000}}\n"
        )
        created = await asyncio.create_subprocess_exec(
            genosd, "keys", "create", "--role", "viewer", "--config", str(config), "--json",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        key = json.loads((await created.communicate())[0])["secret"]
        env = {**os.environ, "GENOSD_LOG_LEVEL": "WARNING"}
        proc = await asyncio.create_subprocess_exec(
            genosd, "run", "--config", str(config), env=env, cwd=root
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(300):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(f"{base}/api/v1/health") as response:
                            if response.status == 200:
                                break
                    await asyncio.sleep(0.1)
            yield f"{base}/api/v1/plugins/chat/ws", {"Authorization": f"Bearer {key}"}
        finally:
            proc.terminate()
            await proc.wait()


async def _answers(
    url: str, headers: dict[str, str], name: str, turns: int, per_conversation: int = 5
) -> list[float]:
    """`turns` answers over one WebSocket, a new conversation every `per_conversation`."""
    latencies = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        await ws.receive_json()  # welcome
        session = None
        for n in range(turns):
            if n % per_conversation == 0:
                session = None
            began = time.perf_counter()
            await ws.send_json(
                {"type": "message", "content": f"{name} turn {n}: how is it?", "session": session}
            )
            while True:
                event = await ws.receive_json()
                if event["type"] == "done":
                    session = event["session"]
                    break
                if event["type"] == "error":
                    raise RuntimeError(event["message"])
            latencies.append(time.perf_counter() - began)
    return latencies


async def _bare(url: str, name: str, turns: int) -> list[float]:
    """The same two model calls per answer, straight to the model server (streamed, as
    genosd asks)."""
    client = ollama.AsyncClient(host=url, trust_env=False)
    latencies = []
    for n in range(turns):
        began = time.perf_counter()
        messages: list[dict] = [{"role": "user", "content": f"{name} bare {n}"}]
        calls = []
        async for piece in await client.chat(model=MODEL, messages=messages, stream=True):
            calls += [c.model_dump() for c in piece.message.tool_calls or []]
        messages += [
            {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "tool_name": "device_status", "content": "[]"},
        ]
        async for _ in await client.chat(model=MODEL, messages=messages, stream=True):
            pass
        latencies.append(time.perf_counter() - began)
    return latencies


async def main() -> None:
    """Sequential tool-call round trips, then concurrent sessions beside the bare reference."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--model-ms", type=float, default=250.0)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--devices", type=int, default=200)
    args = parser.parse_args()
    ms = 1000
    gaps: list[float] = []
    async with model_server(0, args.devices, gaps) as model_url:
        async with daemon(model_url, args.devices) as (url, headers):
            await _answers(url, headers, "warm-up", 5)
            answers = await _answers(url, headers, "sequential", args.sequential)
        await _bare(model_url, "bare", args.sequential)
    # in order: the warm-up's, genosd's, then a bare client's (the HTTP hop both ways alone)
    chat_gaps, bare_gaps = gaps[5 : 5 + args.sequential], gaps[5 + args.sequential :]
    print(f"tool-call round trip, {len(chat_gaps)} answers one at a time (model time 0):")
    for label, values in (("genosd", chat_gaps), ("bare client", bare_gaps)):
        print(
            f"  {label:12} p50 {ms * statistics.median(values):.2f} ms  "
            f"p95 {ms * _p(values, 0.95):.2f} ms"
        )
    print(
        f"  added by genosd: p50 "
        f"{ms * (statistics.median(chat_gaps) - statistics.median(bare_gaps)):.2f} ms  p95 "
        f"{ms * (_p(chat_gaps, 0.95) - _p(bare_gaps, 0.95)):.2f} ms"
    )
    print(
        f"  whole answers (2 model calls, a tool, the store): p50 "
        f"{ms * statistics.median(answers):.1f} ms  p95 {ms * _p(answers, 0.95):.1f} ms"
    )

    unused: list[float] = []
    async with model_server(args.model_ms, args.devices, unused) as model_url:
        async with daemon(model_url, args.devices) as (url, headers):
            await _answers(url, headers, "warm-up", 2)
            began = time.perf_counter()
            per_session = await asyncio.gather(
                *(_answers(url, headers, f"s{n}", args.turns) for n in range(args.sessions))
            )
            chat_wall = time.perf_counter() - began
        began = time.perf_counter()
        bare_sessions = await asyncio.gather(
            *(_bare(model_url, f"b{n}", args.turns) for n in range(args.sessions))
        )
        bare_wall = time.perf_counter() - began
    chat = [x for s in per_session for x in s]
    bare = [x for s in bare_sessions for x in s]
    print(
        f"{args.sessions} sessions x {args.turns} answers, model {args.model_ms:g} ms per call "
        f"(2 calls an answer):"
    )
    for label, values, wall in (("genosd chat", chat, chat_wall), ("bare model", bare, bare_wall)):
        print(
            f"  {label:12} p50 {ms * statistics.median(values):.0f} ms  "
            f"p95 {ms * _p(values, 0.95):.0f} ms  max {ms * max(values):.0f} ms  "
            f"{len(values) / wall:.1f} answers/s"
        )
    print(
        f"  added by genosd: p50 {ms * (statistics.median(chat) - statistics.median(bare)):.0f} ms"
        f"  p95 {ms * (_p(chat, 0.95) - _p(bare, 0.95)):.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
