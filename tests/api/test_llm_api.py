"""The LLM layer over the API and the CLI: models per task kind with fallbacks resolved against a
server speaking Ollama's API, usage totals after calls that succeed and fail, /metrics."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from genosd.llm import LlmUnavailable
from tests.api.conftest import Keys, write_setup


async def test_models_usage_and_metrics(tmp_path: Path, fake_ollama):
    config = write_setup(
        tmp_path,
        9,
        extra=f"llm:\n  url: {fake_ollama.url}\n  timeout: 2\n"
        "  models: {chat: [absent:1b, qwen2.5-coder:7b], embed: [nomic-embed-text]}\n",
    )
    runtime = build_runtime(Sources(config, None, ()))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        viewer = {
            "Authorization": f"Bearer {Keys(runtime.core.settings.state_dir).make(Role.viewer)}"
        }
        models = await (await client.get("/api/v1/llm/models", headers=viewer)).json()
        assert models["configured"] and models["providers"][0]["reachable"]
        chat = models["kinds"]["chat"]
        assert [m["model"] for m in chat["configured"]] == ["absent:1b", "qwen2.5-coder:7b"]
        assert chat["resolves_to"] == [{"provider": "ollama", "model": "qwen2.5-coder:7b"}]
        assert chat["left_out"] == ["ollama: has no model 'absent:1b'"]
        # a bare name matches the server's `:latest`
        assert models["kinds"]["embed"]["resolves_to"][0]["model"] == "nomic-embed-text:latest"
        assert models["kinds"]["summary"]["resolves_to"] == []  # qwen2.5:7b is not there
        system = await (await client.get("/api/v1/system", headers=viewer)).json()
        [server] = [b for b in system["backends"] if b["kind"] == "llm"]
        assert server["name"] == "llm:ollama" and server["healthy"]
        assert "configured here: nomic-embed-text, qwen2.5-coder:7b" in server["detail"]
        assert "not here: absent:1b, qwen2.5:7b" in server["detail"]

        fake_ollama.responder = lambda body: "fine"
        await runtime.core.llm.chat("chat", [{"role": "user", "content": "hello"}])
        fake_ollama.mode = "http500"
        try:
            await runtime.core.llm.chat("chat", [{"role": "user", "content": "again"}])
        except LlmUnavailable as exc:
            assert "HTTP 500" in str(exc)
        usage = await (await client.get("/api/v1/llm/usage", headers=viewer)).json()
        [row] = usage["by_model"]
        assert (row["model"], row["calls"], row["failures"]) == ("qwen2.5-coder:7b", 2, 1)
        assert (
            usage["by_kind"][0]["kind"] == "chat"
            and usage["recent_failures"][0]["result"] == "error"
        )
        metrics = await (await client.get("/metrics", headers=viewer)).text()
        assert (
            'genosd_llm_calls_total{kind="chat",model="qwen2.5-coder:7b",provider="ollama",'
            'result="error"} 1.0' in metrics
        )
    finally:
        await client.close()

    fake_ollama.mode = "ok"
    code, output = await _genosd("llm", "usage", "--config", str(config), "--json")
    assert code == 0, output
    assert json.loads(output)["by_model"][0]["calls"] == 2
    code, output = await _genosd("llm", "models", "--config", str(config))
    # summary and others resolve to nothing on this server: said, and exit 1
    assert code == 1 and "has no model 'absent:1b'" in output and "qwen2.5-coder:7b" in output


async def _genosd(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "genosd"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip
    output, errors = await process.communicate()
    return process.returncode or 0, output.decode() + errors.decode()
