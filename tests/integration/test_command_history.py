"""The command history over the SSH lab: every command genosd sent (a backup, a deploy's pushed
lines, a playbook's shows, one cut off by the device), who asked and why, outputs with secrets
masked; searched over the API and the CLI, pruned by retention."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from typer.testing import CliRunner

from genosd.api.app import create_app
from genosd.app import changes
from genosd.app.backups import run_backup
from genosd.app.command_history import prune
from genosd.app.playbook_engine import finish_run
from genosd.app.playbooks import begin
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from genosd.cli import app as cli_app
from genosd.config.changes import approve_change
from genosd.playbooks.loader import load_playbook
from genosd.statedb import connect, state_db_path
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer
from tests.integration.test_config_deploy import _plan
from tests.ssh_lab import PASSWORD, SECRET, write_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

PLAYBOOK = """name: versions
steps:
  - name: version
    show: {commands: [show version, show ip interface brief]}
    on_failure: continue
"""


async def test_every_command_sent_is_kept_with_who_why_and_masked_output(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings="ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n",
    )
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    core = runtime.core
    try:
        viewer = Keys(core.settings.state_dir).make(Role.viewer)
        started = time.time()
        await run_backup(core, [core.inventory.device("r1")], "alice")
        db = connect(state_db_path(core.settings.state_dir))
        _, sha, change_id = await _plan(core.lifecycle, db, "r1")
        approve_change(db, change_id, sha256=sha, actor="carol")
        db.close()
        deployed = await changes.deploy(core, change_id, "bob")
        assert deployed.outcome.status == "deployed", deployed.outcome.reason
        # r2 cuts the session at `show ip interface brief`: a command that failed is kept too
        r2 = ssh_lab.sims["r2"]
        assert r2.faults_path is not None
        r2.faults_path.write_text(json.dumps({"drop": ["^show ip interface brief"]}))
        path = tmp_path / "versions.yaml"
        path.write_text(PLAYBOOK)
        playbook = load_playbook(path)
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="dave"))

        async def commands(**query: str) -> list[dict]:
            answer = await client.get(
                "/api/v1/commands", params={"limit": "1000", **query}, headers=_bearer(viewer)
            )
            body = await answer.json()
            assert answer.status == 200, body
            return body["items"]

        everything = await commands()
        assert all(row["at"] >= started for row in everything)
        backups = await commands(reason="backup")
        assert [(b["device"], b["command"], b["actor"], b["ok"]) for b in backups] == [
            ("r1", "show running-config", "alice", True)
        ]
        text = backups[0]["output"]
        assert "hostname r1" in text and not backups[0]["truncated"]
        assert "s3cret-community" not in text and "$9$" not in text  # masked before stored
        pushed = [r for r in await commands(reason="deploy") if r["kind"] == "config"]
        assert pushed and all(
            r["actor"] == "bob" and r["ref"] == f"change {change_id}" for r in pushed
        )
        assert any("ntp server 10.255.255.1" in r["command"] for r in pushed)
        reads = [r for r in await commands(reason="deploy") if r["kind"] == "show"]
        assert {r["command"] for r in reads} >= {"show running-config"}
        shows = await commands(reason="playbook versions")
        assert {r["ref"] for r in shows} == {f"run {record.id}"}
        assert {r["actor"] for r in shows} == {"dave"}
        by_device = {(r["device"], r["command"]): r for r in shows}
        assert by_device[("r1", "show ip interface brief")]["ok"]
        assert "Loopback0" in by_device[("r1", "show ip interface brief")]["output"]
        cut = by_device[("r2", "show ip interface brief")]
        assert not cut["ok"] and cut["error"]
        # no secret anywhere: not the device's credentials, not a config secret
        dump = json.dumps(everything)
        assert PASSWORD not in dump and SECRET not in dump and "s3cret-community" not in dump
        # searching
        found = await commands(q="ntp server 10.255.255.1")
        assert found and all(r["reason"] == "deploy" for r in found)
        assert {r["device"] for r in await commands(device="r2")} == {"r2"}
        assert await commands(since=str(time.time() + 60)) == []
        assert all(r["output"] is None for r in await commands(output="false"))
        unauthorised = await client.get("/api/v1/commands")
        assert unauthorised.status == 401
        # the CLI reads the same history
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli_app,
            ["commands", "--reason", "backup", "--json", "--config", str(config)],
            env={"GENOSD_SECRETS_DIR": str(secrets)},
        )
        assert result.exit_code == 0, result.output
        assert [r["command"] for r in json.loads(result.output)] == ["show running-config"]
        # retention: a month later, a 30-day history is empty
        removed = await core.db.run(prune, 30.0, time.time() + 31 * 86400)
        assert removed == len(everything)
        assert await commands() == []
    finally:
        await client.close()
