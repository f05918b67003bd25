"""Playbooks over the API: listed (with bad files named), started in the background, followed to
the end, listed and read back; roles, unknown names and bad variables refused."""

from __future__ import annotations

import asyncio
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
    finally:
        await client.close()
