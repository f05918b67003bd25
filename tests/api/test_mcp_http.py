"""MCP over Streamable HTTP under the API, driven by the SDK's own client: the key decides who
calls and which tools exist; no key, a bad key, no MCP; write tools only when enabled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from aiohttp.test_utils import TestClient, TestServer
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import TextContent

from genosd.api.app import create_app
from genosd.api.context import RUNTIME
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.audit import AuditQuery, search
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup


async def _server(tmp_path: Path, snmpd: int, extra: str = "") -> tuple[TestClient, Keys]:
    runtime = build_runtime(Sources(write_setup(tmp_path, snmpd, extra)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    return client, Keys(runtime.core.settings.state_dir)


async def _tools(url: str, secret: str) -> dict[str, Any]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {secret}"})
    async with (
        http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        called = await session.call_tool("device_status", {"device": "sw1"})
        bad = await session.call_tool("config_diff", {"device": "sw1"})
        drafted = await session.call_tool("plan_change", {"device": "sw1"})
    [content] = called.content
    assert isinstance(content, TextContent)
    return {
        "tools": {t.name: t for t in listed.tools},
        "status": json.loads(content.text),
        "bad": bad,
        "drafted": drafted,
    }


async def test_mcp_over_http_with_api_keys(tmp_path: Path, snmpd: int):
    client, keys = await _server(tmp_path, snmpd)
    try:
        url = str(client.make_url("/api/v1/mcp"))
        got = await _tools(url, keys.make(Role.viewer))
        tools = got["tools"]
        assert isinstance(tools, dict)
        assert {"device_status", "config_diff", "search_knowledge"} <= set(tools)
        assert "plan_change" not in tools  # read-only unless api.mcp_writes
        assert all(t.annotations.read_only_hint for t in tools.values())
        assert got["status"][0]["device"] == "sw1"
        assert got["bad"].is_error and "old: Field required" in got["bad"].content[0].text
        assert got["drafted"].is_error and "no tool 'plan_change' here" in (
            got["drafted"].content[0].text
        )
        # an operator gets no write tool either while api.mcp_writes is off
        assert "plan_change" not in (await _tools(url, keys.make(Role.operator)))["tools"]

        app = client.app
        assert app is not None
        core = app[RUNTIME].core
        await core.settle()
        entries, _ = await core.db.run(
            lambda db: search(db, AuditQuery(action="tool_call"), limit=50, offset=0)
        )
        assert {e.details["agent"] for e in entries} == {"mcp"}
        assert all(e.actor.startswith("key:") for e in entries), [e.actor for e in entries]

        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        async with httpx2.AsyncClient() as http:
            anonymous = await http.post(url, json=message)
            wrong = await http.post(url, json=message, headers={"Authorization": "Bearer gnd_x"})
        assert anonymous.status_code == 401 and wrong.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
    finally:
        await client.close()


@pytest.mark.parametrize("setting", ["mcp: false", "mcp_writes: true"])
async def test_mcp_settings(tmp_path: Path, snmpd: int, setting: str):
    client, keys = await _server(tmp_path, snmpd, f"api: {{{setting}}}\n")
    try:
        url = str(client.make_url("/api/v1/mcp"))
        if setting == "mcp: false":
            headers = {"Authorization": f"Bearer {keys.make(Role.viewer)}"}
            assert (await client.post("/api/v1/mcp", json={}, headers=headers)).status == 404
            return
        assert "plan_change" in (await _tools(url, keys.make(Role.operator)))["tools"]
        viewer = await _tools(url, keys.make(Role.viewer))
        assert "plan_change" not in viewer["tools"]  # the key's role still decides
    finally:
        await client.close()
