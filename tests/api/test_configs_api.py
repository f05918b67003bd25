"""Config backups and history through the API, against the SSH lab, with run and alert events."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer, _next
from tests.ssh_lab import PASSWORD, SECRET, USER


def _setup(tmp_path: Path, ports: dict[str, int]) -> Path:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text(
        "".join(
            f"{name}: {{hostname: 127.0.0.1, platform: ios, groups: [core], "
            f"data: {{ssh: {{credential: lab, port: {port}, timeout: 10}}}}}}\n"
            for name, port in ports.items()
        )
    )
    (inventory / "groups.yaml").write_text("core: {}\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in (("password", PASSWORD), ("enable_secret", SECRET)):
        (secrets / f"ssh_credentials__lab__{name}").write_text(value)
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\nsecrets_dir: {secrets}\n"
        f"ssh_credentials: {{lab: {{username: {USER}}}}}\n"
        "ssh: {backup_schedule: '', facts_interval: 0}\n"
    )
    return config


async def test_backup_run_versions_and_diff_over_the_api(ssh_lab, tmp_path: Path):
    state = build_runtime(Sources(_setup(tmp_path, ssh_lab.ports)))
    client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
    await client.start_server()
    try:
        keys = Keys(state.core.settings.state_dir)
        viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
        assert (
            await client.post("/api/v1/configs/backup", json={}, headers=_bearer(viewer))
        ).status == 403
        async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
            await _next(ws, "welcome")
            await ws.send_json({"type": "subscribe", "topics": ["run", "alert"]})
            await _next(ws, "subscribed")
            answer = await client.post(
                "/api/v1/configs/backup", json={"group": "core"}, headers=_bearer(operator)
            )
            run = await answer.json()
            assert answer.status == 200, run
            assert (run["devices"], run["changed"], run["failed"]) == (2, 2, 0)
            started, finished = await _next(ws, "event"), await _next(ws, "event")
            assert started["data"]["status"] == "started" and started["data"]["devices"] == 2
            assert finished["data"]["changed"] == 2

            await ssh_lab.replace_host_key("r2")
            again = await (
                await client.post(
                    "/api/v1/configs/backup", json={"name": "r2"}, headers=_bearer(operator)
                )
            ).json()
            assert again["failed"] == 1 and "CHANGED" in again["results"][0]["error"]
            events = [await _next(ws, "event") for _ in range(3)]
            alert = next(e for e in events if e["topic"] == "alert")
            assert alert["data"]["kind"] == "ssh_host_key_changed"
            assert alert["data"]["device"] == "r2" and alert["data"]["severity"] == "critical"

        versions = await (
            await client.get("/api/v1/devices/r1/configs", headers=_bearer(viewer))
        ).json()
        assert versions["total"] == 1
        version = versions["items"][0]["id"]
        shown = await (
            await client.get(f"/api/v1/devices/r1/configs/{version[:12]}", headers=_bearer(viewer))
        ).json()
        assert "hostname r1" in shown["text"] and "s3cret-community" not in shown["text"]
        diff = await client.get(
            f"/api/v1/devices/r1/configs/{version}/diff", headers=_bearer(viewer)
        )
        assert diff.status == 200 and (await diff.json())["diff"] == ""
        missing = await client.get("/api/v1/devices/r1/configs/deadbeef00", headers=_bearer(viewer))
        assert missing.status == 404
        audit = await (
            await client.get(
                "/api/v1/audit?action=config_backup", headers=_bearer(keys.make(Role.admin))
            )
        ).json()
        assert [e["result"] for e in audit["items"]] == ["failed", "ok"]
    finally:
        await client.close()
