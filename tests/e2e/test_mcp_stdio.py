"""`genosd mcp` as a real process, driven by the MCP SDK's own client over stdio: the tools are
listed with their schemas, calls answer from genosd's data, bad arguments are tool errors, and
every call is in the audit log as agent `mcp`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from genosd.audit import AuditQuery, search
from genosd.statedb import connect, state_db_path


def _text(result: CallToolResult) -> str:
    [content] = result.content
    assert isinstance(content, TextContent)
    return content.text


async def test_tools_over_stdio(tmp_path: Path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text("core-1: {hostname: 127.0.0.1, platform: ios}\n")
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n")
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "genosd"),
        args=["mcp", "--config", str(config)],
        env={**os.environ, "GENOSD_LOG_LEVEL": "WARNING"},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        tools = {t.name: t for t in listed.tools}
        assert {"device_status", "config_diff", "compliance", "search_knowledge"} <= set(tools)
        assert tools["config_diff"].input_schema["required"] == ["device", "old"]
        assert all(t.annotations and t.annotations.read_only_hint for t in listed.tools)

        answered = await session.call_tool("device_status", {"device": "core-1"})
        assert not answered.is_error
        [status] = json.loads(_text(answered))
        assert status["device"] == "core-1" and status["status"] == "unknown"
        bad = await session.call_tool("device_status", {"device": 5})
        assert bad.is_error and "invalid arguments: device" in _text(bad)
        unknown = await session.call_tool("deploy", {})
        assert unknown.is_error and "no tool 'deploy' here" in _text(unknown)

    db = connect(state_db_path(tmp_path / "state"))
    try:
        entries, total = search(db, AuditQuery(action="tool_call"), limit=10, offset=0)
    finally:
        db.close()
    assert total == 3 and {e.details["agent"] for e in entries} == {"mcp"}
    assert all(e.actor.startswith("mcp:") for e in entries)
