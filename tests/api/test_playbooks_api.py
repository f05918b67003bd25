"""Playbooks over the API: listed (with bad files named), started in the background, followed to
the end, listed and read back; roles, unknown names and bad variables refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.ssh_lab import write_setup

CHECK = """name: check-hosts
description: show hosts everywhere
variables: {what: {default: hosts}}
steps:
  - show: {commands: ['show {{ what }}']}
    register: out
  - assert: {that: ['out.output | length > 0']}
"""


def _playbooks(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "check.yaml").write_text(CHECK)
    (directory / "admin.yaml").write_text(
        CHECK.replace("check-hosts", "admin-only") + "role: admin\n"
    )
    (directory / "broken.yaml").write_text("name: broken\nsteps:\n  - reboot: {}\n")
    return directory


async def test_list_start_follow_and_read_runs(ssh_lab, tmp_path: Path):
    directory = _playbooks(tmp_path)
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings=f"playbooks_dir: {directory}\n"
        "ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n",
    )
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        keys = Keys(runtime.core.settings.state_dir)
        viewer = {"Authorization": f"Bearer {keys.make(Role.viewer)}"}
        operator = {"Authorization": f"Bearer {keys.make(Role.operator)}"}
        listed = await (await client.get("/api/v1/playbooks", headers=viewer)).json()
        assert [p["name"] for p in listed["items"]] == ["admin-only", "check-hosts"]
        assert any(
            "broken.yaml:3" in p and "unknown action 'reboot'" in p for p in listed["problems"]
        )
        # a viewer may not start runs; an operator may not start an admin playbook
        url = "/api/v1/playbooks/check-hosts/runs"
        assert (await client.post(url, json={}, headers=viewer)).status == 403
        denied = await client.post("/api/v1/playbooks/admin-only/runs", json={}, headers=operator)
        assert denied.status == 403 and "admin role" in (await denied.json())["error"]["message"]
        assert (
            await client.post("/api/v1/playbooks/nope/runs", json={}, headers=operator)
        ).status == 404
        bad = await client.post(url, json={"vars": {"colour": "blue"}}, headers=operator)
        assert (
            bad.status == 400
            and "unknown variable 'colour'" in (await bad.json())["error"]["message"]
        )
        started = await client.post(url, json={"vars": {"what": "version"}}, headers=operator)
        assert started.status == 202
        run = await started.json()
        assert run["status"] == "running" and run["hosts"] == 2
        for _ in range(100):
            record = await (await client.get(f"/api/v1/runs/{run['id']}", headers=viewer)).json()
            if record["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert record["status"] == "ok" and record["variables"] == {"what": "version"}
        assert "Cisco IOS" in record["steps"][0]["hosts"]["r2"]["data"]["output"]
        runs = await (await client.get(url, headers=viewer)).json()
        assert [r["id"] for r in runs["items"]] == [run["id"]] and runs["items"][0][
            "status"
        ] == "ok"
        assert (await client.get("/api/v1/runs/999999", headers=viewer)).status == 404

        # the assistant's run_playbook tool: operators only, check mode unless told otherwise
        tool = "/api/v1/tools/run_playbook"
        arguments = {"arguments": {"playbook": "check-hosts", "variables": {"what": "clock"}}}
        refused = await (await client.post(tool, json=arguments, headers=viewer)).json()
        assert not refused["ok"] and "needs the operator role" in refused["error"]
        started = await (await client.post(tool, json=arguments, headers=operator)).json()
        assert started["ok"], started
        begun = json.loads(started["content"])
        assert begun["check"] is True and begun["hosts"] == 2
        admin_only = {"arguments": {"playbook": "admin-only"}}
        denied = await (await client.post(tool, json=admin_only, headers=operator)).json()
        assert "needs the admin role" in denied["error"]
        for _ in range(100):
            record = await (await client.get(f"/api/v1/runs/{begun['run']}", headers=viewer)).json()
            if record["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert (
            record["status"] == "ok" and record["check"] and record["actor"].endswith("via tools")
        )

        # a variable cannot turn the read-only `show {{ what }}` into a write: checked as sent
        sneaky = {"vars": {"what": "running-config | redirect flash:stolen.cfg"}}
        started = await client.post(url, json=sneaky, headers=operator)
        run = await started.json()
        for _ in range(100):
            record = await (await client.get(f"/api/v1/runs/{run['id']}", headers=viewer)).json()
            if record["status"] != "running":
                break
            await asyncio.sleep(0.1)
        hosts = record["steps"][0]["hosts"]
        assert {h["status"] for h in hosts.values()} == {"failed"}
        assert all("refused:" in h["error"] and "writes" in h["error"] for h in hosts.values())
    finally:
        await client.close()


GATED = """name: gated
steps:
  - plan: {features: [ntp]}
  - approval: {message: "ntp for {{ host.name }}"}
  - deploy: {}
"""


async def _until(client: TestClient, run_id: int, headers: dict, *statuses: str) -> dict:
    for _ in range(300):
        record = await (await client.get(f"/api/v1/runs/{run_id}", headers=headers)).json()
        if record["status"] in statuses:
            return record
        await asyncio.sleep(0.1)
    failures = {
        step["step"]: {h: r["error"] for h, r in step["hosts"].items() if r["status"] == "failed"}
        for step in record["steps"]
    }
    raise AssertionError(
        f"run {run_id} stayed {record['status']} ({record['stopped_because']}): {failures}"
    )


async def test_an_approval_gate_survives_a_daemon_restart_and_the_run_goes_on(
    ssh_lab, tmp_path: Path
):
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "gated.yaml").write_text(GATED)
    (directory / "slow.yaml").write_text("name: slow\nsteps:\n  - wait: {seconds: 60}\n")
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings=f"playbooks_dir: {directory}\n"
        "ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n",
    )

    async def daemon() -> tuple[TestClient, Keys]:
        runtime = build_runtime(Sources(config, None, (secrets,)))
        client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
        await client.start_server()
        return client, Keys(runtime.core.settings.state_dir)

    client, keys = await daemon()
    planner = {"Authorization": f"Bearer {keys.make(Role.operator)}"}
    try:
        started = await (
            await client.post("/api/v1/playbooks/gated/runs", json={}, headers=planner)
        ).json()
        record = await _until(client, started["id"], planner, "waiting_approval")
        slow = await (
            await client.post("/api/v1/playbooks/slow/runs", json={}, headers=planner)
        ).json()
    finally:
        await client.close()  # the daemon stops: the waiting run stays, the slow one is cut
    [gate] = record["gates"]
    assert (
        sorted(c["device"] for c in gate["changes"]) == ["r1", "r2"]
        and gate["message"] == "ntp for r1"
    )
    assert "ntp server 10.255.255.1" not in ssh_lab.sims["r1"].device.show_running_config()

    client, keys = await daemon()
    approver = {"Authorization": f"Bearer {keys.make(Role.operator)}"}
    viewer = {"Authorization": f"Bearer {keys.make(Role.viewer)}"}
    try:
        cut = await _until(client, slow["id"], viewer, "interrupted")
        assert "interrupted at batch 1, step 1 (wait)" in cut["stopped_because"]
        url = f"/api/v1/runs/{started['id']}"
        assert (
            await client.post(f"{url}/approve", json={"sha256": gate["sha256"]}, headers=viewer)
        ).status == 403
        wrong = await client.post(f"{url}/approve", json={"sha256": "0" * 64}, headers=approver)
        assert wrong.status == 400 and "does not match" in (await wrong.json())["error"]["message"]
        approved = await client.post(
            f"{url}/approve", json={"sha256": gate["sha256"]}, headers=approver
        )
        assert approved.status == 200, await approved.text()
        done = await _until(client, started["id"], viewer, "ok", "stopped", "partial")
        assert done["status"] == "ok" and done["gates"][0]["decision"] == "approved"
        deploys = next(s for s in done["steps"] if s["action"] == "deploy")["hosts"]
        assert {h: r["status"] for h, r in deploys.items()} == {"r1": "changed", "r2": "changed"}
        assert "ntp server 10.255.255.1" in ssh_lab.sims["r1"].device.show_running_config()
        again = await client.post(
            f"{url}/approve", json={"sha256": gate["sha256"]}, headers=approver
        )
        assert again.status == 409

        # the interrupted run resumes from its wait; cancelled from the API, it stops there
        resumed = await client.post(f"/api/v1/runs/{slow['id']}/resume", headers=approver)
        assert resumed.status == 200 and (await resumed.json())["status"] == "running"
        cancel = await client.post(f"/api/v1/runs/{slow['id']}/cancel", headers=approver)
        assert (await cancel.json())["status"] == "cancelling"
        cancelled = await _until(client, slow["id"], viewer, "cancelled")
        assert (
            cancelled["cancelled_by"]
            and "at batch 1, step 1 (wait)" in cancelled["stopped_because"]
        )
    finally:
        await client.close()
