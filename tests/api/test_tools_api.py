"""The tool registry: genosd's tools and the plugins' in one list, calls validated, role-checked,
timed out, capped, redacted and audited; over the API and directly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from genosd.app.core import tool_core
from genosd.app.snapshot import Sources, load_snapshot
from genosd.app.tool_catalog import interface_problems
from genosd.app.tools import ToolRegistry, ToolSpec
from genosd.audit import AuditQuery, search
from genosd.auth.keys import Role
from genosd.errors import NotFoundError
from tests.api.test_events_ws import _bearer


async def test_tools_over_the_api(api):
    client, keys = await api()
    viewer = _bearer(keys.make(Role.viewer))
    listed = await (await client.get("/api/v1/tools", headers=viewer)).json()
    tools = {t["name"]: t for t in listed["items"]}
    assert {"device_status", "config_versions", "config_diff", "compliance"} <= set(tools)
    assert tools["search_knowledge"]["owner"] == "rag"  # a plugin's tool, same registry
    assert tools["config_diff"]["parameters"]["required"] == ["device", "old"]

    url = "/api/v1/tools/device_status"
    called = await (
        await client.post(url, json={"arguments": {"device": "sw1"}}, headers=viewer)
    ).json()
    assert called["ok"] and json.loads(called["content"])[0]["device"] == "sw1"
    bad = await (
        await client.post(url, json={"arguments": {"device": 5, "colour": "red"}}, headers=viewer)
    ).json()
    assert not bad["ok"] and "device: Input should be a valid string" in bad["error"]
    assert "colour: Extra inputs are not permitted" in bad["error"]
    missing = await (
        await client.post(
            "/api/v1/tools/config_diff",
            json={"arguments": {"device": "nope", "old": "abcdef0"}},
            headers=viewer,
        )
    ).json()
    assert missing["error"] == "no device 'nope' in the inventory"
    operator = _bearer(keys.make(Role.operator))
    assert (await client.post("/api/v1/devices/sw1/poll", headers=operator)).status == 200
    metrics = await (
        await client.post(
            "/api/v1/tools/device_metrics",
            json={"arguments": {"device": "sw1", "measurement": "interface"}},
            headers=viewer,
        )
    ).json()
    series = json.loads(metrics["content"])
    assert metrics["ok"] and series and {s["measurement"] for s in series} == {"interface"}
    assert "ifName" in series[0]["tags"] or "ifDescr" in series[0]["tags"]
    problems = await (
        await client.post(
            "/api/v1/tools/interface_problems",
            json={"arguments": {"device": "sw1"}},
            headers=viewer,
        )
    ).json()
    assert problems["ok"] and isinstance(json.loads(problems["content"]), list)
    assert (await client.post("/api/v1/devices/sw1/poll", headers=operator)).status == 200
    window = await (
        await client.post(
            "/api/v1/tools/metrics_window",
            json={"arguments": {"device": "sw1", "minutes": 5}},
            headers=viewer,
        )
    ).json()
    summary = json.loads(window["content"])
    assert window["ok"] and summary["series"], summary
    statuses = [
        s["fields"]["ifOperStatus"] for s in summary["series"] if s["fields"].get("ifOperStatus")
    ]
    assert statuses and all(f["samples"] == 2 for f in statuses)  # both polls
    assert any("in_bps" in s["fields"] for s in summary["series"])  # a rate, from the second
    history = await (
        await client.get(
            "/api/v1/devices/sw1/metrics/history",
            params={"field": "ifOperStatus", "minutes": "5"},
            headers=viewer,
        )
    ).json()
    assert history["series"] and all(len(s["points"]) == 2 for s in history["series"])
    unknown = await (await client.post("/api/v1/tools/deploy_now", json={}, headers=viewer)).json()
    assert not unknown["ok"] and "no tool 'deploy_now' here (tools: compliance" in unknown["error"]


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = ""
    size: int = 0
    sleep: float = 0.0


async def _echo(args: BaseModel) -> object:
    assert isinstance(args, Echo)
    if args.text == "missing":
        raise NotFoundError("nothing called missing")
    await asyncio.sleep(args.sleep)
    return {"text": args.text, "padding": "x" * args.size}


async def test_the_registry_checks_roles_caps_redacts_and_audits(tmp_path: Path):
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    async with tool_core(load_snapshot(Sources(config))) as core:
        tools = ToolRegistry(
            core,
            [
                ToolSpec("echo", "Echo.", Echo, _echo, timeout=0.5, max_chars=200),
                ToolSpec("push", "Would change a device.", Echo, _echo, Role.operator, writes=True),
            ],
        )
        assert [t.name for t in tools.available(Role.admin)] == ["echo"]  # read-only set
        assert [t.name for t in tools.available(Role.viewer, writes=True)] == ["echo"]
        denied = await tools.call("push", {}, actor="k:v", role=Role.viewer)
        assert denied.error == "push needs the operator role"
        limited = await tools.call("echo", {}, actor="k:v", role=Role.admin, allowed=["push"])
        assert limited.error and limited.error.startswith("no tool 'echo' here")

        big = await tools.call("echo", {"size": 1000}, actor="k:v", role=Role.viewer, agent="ts")
        assert big.ok and big.truncated and big.chars > 1000
        assert big.content.endswith("characters left out; ask for less]")
        slow = await tools.call("echo", '{"sleep": 2}', actor="k:v", role=Role.viewer)
        assert slow.error == "echo did not finish within 0.5 s"
        assert (await tools.call("echo", "{not json", actor="k:v", role=Role.viewer)).error == (
            "the arguments are not JSON: Expecting property name enclosed in double quotes"
        )
        failed = await tools.call("echo", {"text": "missing"}, actor="k:v", role=Role.viewer)
        assert failed.error == "nothing called missing"
        secret = "snmp-server community Sup3rS3cret RO"
        shown = await tools.call("echo", {"text": secret}, actor="k:v", role=Role.viewer)
        assert "Sup3rS3cret" not in shown.content and "snmp-server community" in shown.content

        await core.settle()
        entries, total = await core.db.run(
            lambda db: search(db, AuditQuery(action="tool_call"), limit=20, offset=0)
        )
        assert total == 7
        assert all("Sup3rS3cret" not in json.dumps(e.details) for e in entries)
        by_target = [(e.target, e.result, e.details["agent"]) for e in reversed(entries)]
        assert by_target[2] == ("echo", "ok", "ts") and by_target[0] == ("push", "failed", None)


def test_interface_problems_are_ranked_from_the_newest_values():
    def interface(name: str, **fields: float) -> dict:
        return {"measurement": "interface", "tags": {"ifName": name}, "fields": fields}

    found = interface_problems(
        [
            interface("Gi0/1", ifAdminStatus=1, ifOperStatus=1, in_errors_rate=0.0),
            interface("Gi0/2", ifAdminStatus=1, ifOperStatus=2),
            interface("Gi0/3", ifAdminStatus=2, ifOperStatus=2),  # shut: not a problem
            interface(
                "Gi0/4", ifAdminStatus=1, ifOperStatus=1, in_errors_rate=12.5, out_discards_rate=3
            ),
            {"measurement": "snmp_cpu", "tags": {}, "fields": {"in_errors_rate": 9}},
        ]
    )
    assert found == [
        {
            "interface": "Gi0/4",
            "alias": None,
            "problems": ["in_errors_rate 12.5/s", "out_discards_rate 3/s"],
        },
        {"interface": "Gi0/2", "alias": None, "problems": ["enabled but down"]},
    ]


def test_the_tools_commands(tmp_path: Path):
    from typer.testing import CliRunner

    from genosd.cli import app

    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text("core-1: {hostname: 127.0.0.1, platform: ios}\n")
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n")
    c = ["--config", str(config)]
    runner = CliRunner()
    listed = runner.invoke(app, ["tools", "list", *c, "--role", "viewer", "--json"])
    names = {t["name"] for t in json.loads(listed.stdout)}
    assert {"device_status", "search_knowledge"} <= names and "plan_change" not in names
    called = runner.invoke(app, ["tools", "call", "device_status", '{"device": "core-1"}', *c])
    assert called.exit_code == 0 and json.loads(called.stdout)[0]["device"] == "core-1"
    failed = runner.invoke(app, ["tools", "call", "device_status", '{"device": "nope"}', *c])
    assert failed.exit_code == 1 and "no device 'nope' in the inventory" in failed.stderr
    bad = runner.invoke(app, ["tools", "call", "device_status", "[1]", *c])
    assert bad.exit_code == 2 and "must be a JSON object" in bad.stderr
