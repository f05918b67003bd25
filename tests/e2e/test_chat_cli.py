"""`genosd chat` as a real process against a daemon's API on a loopback port: one question, the
interactive loop (streamed answer, tool calls shown, feedback), conversations, agents."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup
from tests.ollama_server import FakeOllama
from tests.servers import free_tcp_port

GENOSD = str(Path(sys.executable).parent / "genosd")
pytestmark = pytest.mark.slow  # a dozen CLI processes


def script(body: dict[str, Any]) -> dict[str, Any]:
    """Look at the device named in the question, then answer."""
    last = body["messages"][-1]
    if last["role"] == "tool" and last["tool_name"] == "compliance":
        return {"content": "No compliance findings to report."}
    if last["role"] == "tool":
        return {"content": f"sw1 answered: {json.loads(last['content'])[0]['status']}."}
    if (
        "compliance" in {t["function"]["name"] for t in body.get("tools") or []}
        and "review" in last["content"].lower()
    ):
        return {"tool_calls": [{"name": "compliance", "arguments": {"device": "sw1"}}]}
    return {"tool_calls": [{"name": "device_status", "arguments": {"device": "sw1"}}]}


async def _cli(config: Path, key: str | None, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {**os.environ, "GENOSD_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    env.pop("GENOSD_API_KEY", None)
    if key is not None:
        env["GENOSD_API_KEY"] = key
    proc = await asyncio.create_subprocess_exec(
        GENOSD, "chat", *args, "--config", str(config),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_chat_from_the_terminal(tmp_path: Path, snmpd: int):
    server = FakeOllama(models=("qwen2.5:7b",))
    server.script = script
    await server.start()
    port = free_tcp_port()
    config = write_setup(tmp_path, snmpd, f"llm: {{url: '{server.url}'}}\napi: {{port: {port}}}\n")
    runtime = build_runtime(Sources(config))
    app = create_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        keys = Keys(runtime.core.settings.state_dir)
        viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)

        code, out, err = await _cli(config, viewer, "ask", "How is sw1?", "--json")
        assert code == 0, err
        answer = json.loads(out)
        assert answer["content"].startswith("sw1 answered:")
        assert [c["tool"] for c in answer["tool_calls"]] == ["device_status"]

        code, out, err = await _cli(config, viewer, stdin="How is sw1 now?\n/up spot on\n/quit\n")
        assert code == 0, err
        assert '→ device_status {"device": "sw1"}' in out and "device_status: ok" in out
        assert "sw1 answered:" in out and "1 tool calls" in out
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"http://127.0.0.1:{port}/api/v1/plugins/chat/stats",
                headers={"Authorization": f"Bearer {viewer}"},
            ) as response,
        ):
            stats = await response.json()
        assert stats["feedback"]["up"] == 1 and stats["turns"] == 2

        code, out, _ = await _cli(config, viewer, "sessions", "--json")
        sessions = json.loads(out)
        assert code == 0 and len(sessions) == 2
        code, out, _ = await _cli(config, viewer, "export", sessions[-1]["id"], "--markdown")
        assert code == 0 and "How is sw1?" in out

        code, out, _ = await _cli(config, viewer, "agents", "validate", "config-reviewer")
        assert code == 0 and "config-reviewer is valid" in out
        code, out, _ = await _cli(config, operator, "agents", "test", "config-reviewer")
        assert code == 0, out
        assert "✓ reads compliance findings" in out and "1 passed, 0 failed" in out
        code, out, _ = await _cli(config, operator, "agents", "test", "troubleshooter")
        assert code == 1 and "interface_problems was not called" in out

        code, _, err = await _cli(config, None, "sessions")
        assert code == 1 and "set GENOSD_API_KEY" in err
    finally:
        await runner.cleanup()
        await server.stop()
