"""The assistant's `show_command` tool against simulated IOS routers over real SSH: read-only
commands answer with their output (and TextFSM rows), anything that could change a device is
refused before a session opens; the one read-only policy also guards playbook `show` steps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from genosd.app.core import tool_core
from genosd.app.facts import collect
from genosd.app.snapshot import Sources, load_snapshot
from genosd.app.tool_catalog import registry
from genosd.auth.keys import Role
from genosd.readonly import read_only_problem
from tests.ssh_lab import write_setup


@pytest.mark.parametrize(
    "command",
    [
        "show version",
        "show running-config | include ntp",
        "show ip route | begin Gateway",
        "show interfaces | display json",
        "ping 10.0.0.1",
        "show running-config | include ntp|snmp-server",  # IOS: `|` inside the include regex
        "show interfaces | include line protocol | exclude up",  # NX-OS/Junos: two filters
    ],
)
def test_read_only_commands_pass(command: str):
    assert read_only_problem(command) is None


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("configure terminal", "not a read-only command"),
        ("show running-config | redirect flash:x.cfg", "writes"),
        ("show tech | tee flash:tech.txt", "writes"),
        ("show run | include ntp|snmp | redirect flash:x", "writes"),
        ("show version | reload", "is not an output filter"),
        ("show configuration | save /tmp/x", "writes"),
        ("show version\nreload", "one command per line"),
        ("show clock; reload", "one command per line"),
        ("monitor capture CAP start", "not a read-only command"),
        ("   ", "an empty command"),
    ],
)
def test_anything_else_is_refused(command: str, why: str):
    problem = read_only_problem(command)
    assert problem is not None and why in problem


async def test_show_command_tool_on_the_lab(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    async with tool_core(load_snapshot(Sources(config, None, (secrets,)))) as core:
        tools = registry(core)
        shown = await tools.call(
            "show_command",
            {"device": "r1", "command": "show ip route"},
            actor="t",
            role=Role.viewer,
        )
        assert shown.ok, shown.error
        answer = json.loads(shown.content)
        assert answer["device"] == "r1" and "Gateway" in answer["output"]
        no_facts = await tools.call(
            "device_neighbors", {"device": "r1"}, actor="t", role=Role.viewer
        )
        assert no_facts.error == "no facts collected from r1 yet"
        await collect(core, [core.inventory.device("r1")])
        found = await tools.call("device_neighbors", {"device": "r1"}, actor="t", role=Role.viewer)
        cdp = json.loads(found.content)["cdp"]
        assert found.ok and cdp and "r2" in json.dumps(cdp)
        refused = await tools.call(
            "show_command",
            {"device": "r1", "command": "show run | redirect flash:x"},
            actor="t",
            role=Role.viewer,
        )
        assert not refused.ok and refused.error is not None and refused.error.startswith("refused:")


async def test_plan_change_only_records_a_request(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    async with tool_core(load_snapshot(Sources(config, None, (secrets,)))) as core:
        tools = registry(core)
        assert "plan_change" not in [t.name for t in tools.available(Role.admin)]  # a write tool
        before = ssh_lab.sims["r1"].device.show_running_config()
        denied = await tools.call("plan_change", {"device": "r1"}, actor="k:v", role=Role.viewer)
        assert denied.error == "plan_change needs the operator role"
        planned = await tools.call(
            "plan_change",
            {"device": "r1", "features": ["ntp"]},
            actor="k:op",
            role=Role.operator,
            agent="planner",
        )
        assert planned.ok, planned.error
        answer = json.loads(planned.content)
        assert answer["status"] == "pending" and len(answer["sha256"]) == 64
        assert (
            "+ntp server 10.255.255.1" in answer["diff"] and "nothing is pushed" in answer["next"]
        )
        assert (
            ssh_lab.sims["r1"].device.show_running_config() == before
        )  # nothing reached the device
        change = await core.db.run(
            lambda db: db.execute(
                "SELECT created_by FROM changes WHERE id = ?", (answer["change"],)
            ).fetchone()
        )
        assert change[0] == "k:op via planner"


async def test_plan_restore_only_records_a_request(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    async with tool_core(load_snapshot(Sources(config, None, (secrets,)))) as core:
        tools = registry(core)
        running = ssh_lab.sims["r1"].device.show_running_config()
        older = running.replace("line vty 0 4", "ntp server 10.9.9.9\nline vty 0 4")
        version = await asyncio.to_thread(
            core.history.commit, "r1", older, "backup", lambda previous: "r1: an older config"
        )
        assert version is not None
        denied = await tools.call(
            "plan_restore", {"device": "r1", "version": version}, actor="k:v", role=Role.viewer
        )
        assert denied.error == "plan_restore needs the operator role"
        planned = await tools.call(
            "plan_restore", {"device": "r1", "version": version}, actor="k:op", role=Role.operator
        )
        assert planned.ok, planned.error
        answer = json.loads(planned.content)
        assert answer["status"] == "pending" and "+ntp server 10.9.9.9" in answer["diff"]
        assert ssh_lab.sims["r1"].device.show_running_config() == running
