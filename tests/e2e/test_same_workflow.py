"""A deploy from the CLI and one from the API are the same workflow: same audit entries, same events,
and one deploy per device at a time across the two processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer
from tests.e2e.test_config_cli import _genosd
from tests.ssh_lab import write_setup


async def _events(ws, device: str, last_status: str, timeout: float = 60.0) -> list[dict]:
    """`run` events about `device`, until one with `last_status` arrives."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await ws.receive_json(timeout=deadline - time.monotonic())
        if message["type"] != "event" or message["data"].get("device") != device:
            continue
        seen.append(message["data"])
        if message["data"]["status"] == last_status:
            return seen
    raise AssertionError(f"no {last_status} event for {device}; saw {seen}")


def _shape(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["kind"], e["status"]) for e in events]


async def _audit(client: TestClient, admin: str, device: str) -> list[tuple[str, str]]:
    page = await client.get(
        "/api/v1/audit",
        params={"target": f"device:{device}", "limit": "100"},
        headers=_bearer(admin),
    )
    items = (await page.json())["items"]
    return [(e["action"], e["result"]) for e in reversed(items)]


async def test_cli_and_api_deploys_write_the_same_audit_entries_and_events(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {backup_schedule: '', facts_interval: 0}\n"
    )
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    env = {**os.environ, "GENOSD_SECRETS_DIR": str(secrets)}
    c = ("--config", str(config))
    try:
        keys = Keys(runtime.core.settings.state_dir)
        operator, admin = keys.make(Role.operator), keys.make(Role.admin)
        async with client.ws_connect("/api/v1/events", headers=_bearer(operator)) as ws:
            assert (await ws.receive_json())["type"] == "welcome"
            await ws.send_json({"type": "subscribe", "topics": ["run"]})
            assert (await ws.receive_json())["type"] == "subscribed"

            # over the API: r1
            plan = await (
                await client.post("/api/v1/devices/r1/plan", headers=_bearer(operator))
            ).json()
            change = plan["change"]
            approved = await client.post(
                f"/api/v1/approvals/{change['id']}/approve",
                json={"sha256": change["sha256"]},
                headers=_bearer(operator),
            )
            assert approved.status == 200
            deployed = await client.post(
                f"/api/v1/approvals/{change['id']}/deploy", headers=_bearer(operator)
            )
            assert (await deployed.json())["status"] == "deployed"
            api_events = await _events(ws, "r1", "deployed")

            # from the CLI, another process: r2; its events reach this stream through the daemon
            dry = await _genosd("config", "deploy", "r2", *c, "--json", env=env)
            assert dry.returncode == 0, dry.stderr
            cli_plan = json.loads(dry.stdout)
            done = await _genosd(
                "config",
                "deploy",
                "r2",
                *c,
                "--approve",
                str(cli_plan["change"]),
                "--json",
                env=env,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            cli_events = await _events(ws, "r2", "deployed")

        assert (
            _shape(api_events)
            == _shape(cli_events)
            == [
                ("config_plan", "pending_approval"),
                ("config_deploy", "started"),
                ("config_deploy", "deployed"),
            ]
        )
        assert {e.get("origin") for e in cli_events} == {"cli"}
        assert api_events[1]["actor"].startswith("key:")
        assert cli_events[1]["actor"].startswith("cli:")
        api_audit, cli_audit = await _audit(client, admin, "r1"), await _audit(client, admin, "r2")
        assert (
            api_audit
            == cli_audit
            == [
                ("plan_config_change", "ok"),
                ("approve_config_change", "ok"),
                ("deploy_config_change", "ok"),
            ]
        )
    finally:
        await client.close()


HOLD_LOCK = """
import sys, time
from genosd.app.locks import acquire
from genosd.statedb import connect
db = connect(__import__("pathlib").Path(sys.argv[1]))
acquire(db, "r1", "deploy of change 99", "cli:someone")
print("held", flush=True)
time.sleep(60)
"""


async def test_a_device_another_process_is_deploying_to_is_busy(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {backup_schedule: '', facts_interval: 0}\n"
    )
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(runtime.core.db.path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        operator = Keys(runtime.core.settings.state_dir).make(Role.operator)
        busy = await client.post("/api/v1/devices/r1/plan", headers=_bearer(operator))
        error = (await busy.json())["error"]
        assert busy.status == 409 and "deploy of change 99 by cli:someone" in error["message"]
        holder.kill()
        holder.wait()
        # the holder died without releasing: its lock is stale and taken over
        free = await client.post("/api/v1/devices/r1/plan", headers=_bearer(operator))
        assert free.status == 200
        await asyncio.sleep(0)
    finally:
        holder.kill()
        await client.close()
