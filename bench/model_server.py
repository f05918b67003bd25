"""A stand-in model server for benchmarks, in a process of its own (so its work is not counted as
genosd's): speaks Ollama's API (tests/ollama_server.py); each answer calls `device_status` once,
then answers. On SIGTERM it writes the tool-call round trips it saw (seconds) as JSON to OUT.

    python -m bench.model_server PORT DELAY_MS DEVICES OUT
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.ollama_server import FakeOllama

MODEL = "qwen2.5:7b"


class Script:
    """A tool call, then an answer; notes when each request arrived."""

    def __init__(self, delay: float, devices: int):
        self.delay = delay
        self.devices = devices
        self.answered: dict[str, float] = {}
        self.gaps: list[float] = []

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        now = time.perf_counter()  # the request arrived `delay` ago (the server sleeps first)
        question = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        if body["messages"][-1]["role"] != "tool":
            self.answered[question] = time.perf_counter()
            device = f"d{sum(map(ord, question)) % self.devices}"
            return {"tool_calls": [{"name": "device_status", "arguments": {"device": device}}]}
        sent = self.answered.pop(question, None)
        if sent is not None:
            self.gaps.append(now - self.delay - sent)
        return {"content": "All good: the device is up and polled on time."}


async def main() -> None:
    """Serve until SIGTERM, then write the round trips."""
    port, delay_ms, devices, out = (
        int(sys.argv[1]),
        float(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    server = FakeOllama(models=(MODEL,))
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    script = Script(delay_ms / 1000, devices)
    server.script, server.delay = script, delay_ms / 1000
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await asyncio.to_thread(Path(out).write_text, json.dumps(script.gaps))
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
