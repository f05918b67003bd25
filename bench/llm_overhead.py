"""What the LLM layer adds per call, beside a direct `ollama` client call to the same server.

A server speaking Ollama's API (tests/ollama_server.py) runs in a child process and answers at
once, so the time measured is the client side. Per round, `--calls` sequential chat calls with a
~2 KB config excerpt as the prompt: the official `ollama.AsyncClient` directly (the baseline), then
genosd's layer (redaction of every platform's secret forms and of genosd's own secret values,
trimming check, routing with the server's model list cached, usage accounting, the cache turned
off), then the layer answering the same call from its cache. Rounds alternate; medians of the
per-call latency medians; the overhead is layer minus direct, in milliseconds.

Run from the repository root:
    .venv/bin/python -m bench.llm_overhead [--calls 300 --rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

MODEL = "qwen2.5-coder:7b"
CONFIG = "\n".join(
    [
        "hostname edge-1",
        "snmp-server community s3cret-community RO",
        "username admin privilege 15 secret 9 $9$oNguEA9um9vRx.$MsDk0DOy1rzBjKAcySWdNjoK",
        *(
            f"interface GigabitEthernet0/{n}\n description uplink {n}\n ip address 10.0.{n}.1 "
            "255.255.255.252\n no shutdown"
            for n in range(24)
        ),
    ]
)
SERVER = """
import asyncio, sys
from tests.ollama_server import FakeOllama
async def main():
    server = FakeOllama()
    server.responder = lambda body: '{"ok": true}'
    await server.start()
    print(server.url, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


async def _direct(url: str, calls: int) -> list[float]:
    import ollama

    client = ollama.AsyncClient(host=url, trust_env=False)
    messages = [{"role": "user", "content": CONFIG}]
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await client.chat(model=MODEL, messages=messages, options={"temperature": 0}, stream=False)
        times.append(time.perf_counter() - started)
    await client._client.aclose()
    return times


async def _layer(url: str, calls: int, cache: bool) -> list[float]:
    from genosd.app.llm import redactor
    from genosd.llm import LlmLayer, Usage
    from genosd.settings import GenosdSettings

    settings = GenosdSettings.model_validate(
        {
            "state_dir": "/tmp/genosd-bench-llm",
            "ssh_credentials": {"lab": {"username": "admin", "password": "admin-pass"}},
            "llm": {"url": url, "models": {"chat": [MODEL]}},
        }
    )
    rows: list[Usage] = []

    async def keep(usage: Usage) -> None:
        rows.append(usage)  # the accounting hook, without the database write

    layer = LlmLayer(settings.llm, redactor(settings), keep)
    messages = [{"role": "user", "content": CONFIG}]
    await layer.chat("chat", messages, cache=cache)  # the model list read once, as in steady state
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await layer.chat("chat", messages, cache=cache)
        times.append(time.perf_counter() - started)
    await layer.close()
    return times


def main() -> None:
    """Run the side-by-side benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    medians: dict[str, list[float]] = {"direct": [], "layer": [], "cache_hit": []}
    try:
        for n in range(args.rounds):
            medians["direct"].append(statistics.median(asyncio.run(_direct(url, args.calls))))
            medians["layer"].append(statistics.median(asyncio.run(_layer(url, args.calls, False))))
            medians["cache_hit"].append(
                statistics.median(asyncio.run(_layer(url, args.calls, True)))
            )
            print(
                f"round {n + 1}: "
                + ", ".join(f"{k} {v[-1] * 1000:.3f} ms" for k, v in medians.items())
            )
    finally:
        server.terminate()
    direct, layer, hit = (statistics.median(medians[k]) * 1000 for k in medians)
    print(
        f"{args.calls} calls x {args.rounds} rounds, medians: direct ollama client {direct:.3f} ms, "
        f"genosd layer {layer:.3f} ms, overhead {layer - direct:+.3f} ms per call (target < 2 ms), "
        f"cache hit {hit:.3f} ms"
    )


if __name__ == "__main__":
    main()
