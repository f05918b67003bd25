"""Intended configs, compliance and plan → approve → deploy over the API, against the SSH lab."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.reload import reload
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer, _next
from tests.ollama_server import FakeOllama
from tests.ssh_lab import write_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


async def _start(tmp_path: Path, ports: dict[str, int]) -> tuple[TestClient, Keys]:
    config, secrets = write_setup(
        tmp_path, ports, settings="ssh: {backup_schedule: '', facts_interval: 0}\n"
    )
    state = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
    await client.start_server()
    return client, Keys(state.core.settings.state_dir)


async def test_plan_approve_by_hash_deploy_and_compliance(ssh_lab, tmp_path: Path):
    client, keys = await _start(tmp_path, ssh_lab.ports)
    try:
        viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
        intended = await client.get("/api/v1/devices/r1/intended", headers=_bearer(viewer))
        body = await intended.json()
        assert intended.status == 200, body
        assert "ntp server 10.255.255.1" in body["text"]
        assert "s3cret-community" not in body["text"] and "<secret:" in body["text"]
        assert body["score"] == 100.0 and body["llm"] == "not configured"

        assert (await client.post("/api/v1/devices/r1/plan", headers=_bearer(viewer))).status == 403
        planned = await client.post("/api/v1/devices/r1/plan", headers=_bearer(operator))
        plan = await planned.json()
        assert planned.status == 200, plan
        change = plan["change"]
        assert not plan["in_sync"] and change["status"] == "pending"
        assert "aaa new-model" in change["commands"]
        cid = change["id"]

        wrong = await client.post(
            f"/api/v1/approvals/{cid}/approve", json={"sha256": "a" * 64}, headers=_bearer(operator)
        )
        assert wrong.status == 400 and "does not match" in (await wrong.json())["error"]["message"]
        # the refusal is audited, and the row survives the error that refused the approval
        admin = keys.make(Role.admin)
        denied = await client.get(
            "/api/v1/audit",
            params={"action": "approve_config_change", "result": "denied"},
            headers=_bearer(admin),
        )
        [row] = (await denied.json())["items"]
        assert row["diff_hash"] == "a" * 64 and "does not match" in row["details"]["reason"]
        early = await client.post(f"/api/v1/approvals/{cid}/deploy", headers=_bearer(operator))
        assert early.status == 409
        approved = await client.post(
            f"/api/v1/approvals/{cid}/approve",
            json={"sha256": change["sha256"]},
            headers=_bearer(operator),
        )
        assert (await approved.json())["status"] == "approved"

        async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
            await _next(ws, "welcome")
            await ws.send_json({"type": "subscribe", "topics": ["run"]})
            await _next(ws, "subscribed")
            deployed = await client.post(
                f"/api/v1/approvals/{cid}/deploy", headers=_bearer(operator)
            )
            result = await deployed.json()
            assert deployed.status == 200, result
            assert result["status"] == "deployed" and result["change"]["status"] == "deployed"
            started, finished = await _next(ws, "event"), await _next(ws, "event")
            assert started["data"]["status"] == "started"
            assert finished["data"]["status"] == "deployed" and finished["data"]["device"] == "r1"
        assert "ntp server 10.255.255.2" in ssh_lab.sims["r1"].device.show_running_config()
        again = await client.post(f"/api/v1/approvals/{cid}/deploy", headers=_bearer(operator))
        assert again.status == 409  # used once

        insync = await (
            await client.post("/api/v1/devices/r1/plan", headers=_bearer(operator))
        ).json()
        assert insync["in_sync"] and insync["change"] is None

        # compliance of running configs comes from backups: r2 still lacks NTP and AAA
        run = await client.post("/api/v1/configs/backup", json={}, headers=_bearer(operator))
        assert run.status == 200
        latest = await (await client.get("/api/v1/compliance", headers=_bearer(viewer))).json()
        running = {(r["device"], r["source"]): r for r in latest["items"]}
        r1_running = running[("r1", "running")]["findings"]
        # r1 converged to its intent: only the hardening baseline still finds something (the
        # lab's devices are not hardened: no banner, no remote syslog, …)
        assert r1_running and all(f["rule"].startswith("ios-") for f in r1_running)
        assert "ios-login-banner" in {f["rule"] for f in r1_running}
        r2 = running[("r2", "running")]
        assert r2["score"] < 100.0
        assert {"ntp-configured", "aaa-new-model"} <= {f["rule"] for f in r2["findings"]}
        # the score is also a point in the metrics database, for dashboards
        kept = await (
            await client.get("/api/v1/devices/r2/metrics", headers=_bearer(viewer))
        ).json()
        scores = [s for s in kept["series"] if s["measurement"] == "genosd_compliance"]
        assert {s["tags"]["source"] for s in scores} >= {"running"}
        running_point = next(s for s in scores if s["tags"]["source"] == "running")
        assert running_point["fields"]["score"] == r2["score"]
        assert running_point["fields"]["findings"] == len(r2["findings"])
        # the fleet report, in its three forms
        report = await (
            await client.get("/api/v1/compliance/report", headers=_bearer(viewer))
        ).json()
        assert {i["device"]: i["score"] for i in report["items"]}["r2"] == r2["score"]
        assert report["checked"] == 2 and report["below_100"] >= 1
        as_csv = await client.get(
            "/api/v1/compliance/report", params={"format": "csv"}, headers=_bearer(viewer)
        )
        assert as_csv.content_type == "text/csv" and "r2," in await as_csv.text()
        as_html = await client.get(
            "/api/v1/compliance/report",
            params={"format": "html", "device": "r2"},
            headers=_bearer(viewer),
        )
        page = await as_html.text()
        assert as_html.content_type == "text/html" and "r2" in page and ">r1<" not in page
        history = await (
            await client.get("/api/v1/devices/r1/compliance", headers=_bearer(viewer))
        ).json()
        assert [r["source"] for r in history["items"]][:1] == ["running"]
        assert history["total"] >= 3  # intended (GET), intended (2 plans), running
        metrics = await (await client.get("/metrics")).text()
        assert 'genosd_compliance_score{device="r2"}' in metrics

        audit = await (
            await client.get("/api/v1/audit?limit=1000", headers=_bearer(keys.make(Role.admin)))
        ).json()
        actions = {(e["action"], e["diff_hash"]) for e in audit["items"]}
        assert ("approve_config_change", change["sha256"]) in actions
        assert ("deploy_config_change", change["sha256"]) in actions
        listed = await (
            await client.get("/api/v1/approvals?status=deployed", headers=_bearer(viewer))
        ).json()
        assert [c["id"] for c in listed["items"]] == [cid]
    finally:
        await client.close()


async def test_four_eyes_and_reject(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        configs=", four_eyes: true, require_llm_review: true",
        settings="ssh: {backup_schedule: '', facts_interval: 0}\n",
    )
    state = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
    await client.start_server()
    try:
        keys = Keys(state.core.settings.state_dir)
        planner, other = keys.make(Role.operator), keys.make(Role.operator)
        plan = await (await client.post("/api/v1/devices/r2/plan", headers=_bearer(planner))).json()
        change = plan["change"]
        own = await client.post(
            f"/api/v1/approvals/{change['id']}/approve",
            json={"sha256": change["sha256"]},
            headers=_bearer(planner),
        )
        assert own.status == 409 and "four_eyes" in (await own.json())["error"]["message"]
        rejected = await client.post(
            f"/api/v1/approvals/{change['id']}/reject", headers=_bearer(other)
        )
        assert (await rejected.json())["status"] == "rejected"
        late = await client.post(
            f"/api/v1/approvals/{change['id']}/approve",
            json={"sha256": change["sha256"]},
            headers=_bearer(other),
        )
        assert late.status == 409

        # require_llm_review: no LLM configured → not approvable; with a model that answers → fine
        unreviewed = (
            await (await client.post("/api/v1/devices/r2/plan", headers=_bearer(planner))).json()
        )["change"]
        assert unreviewed["llm"] == "not configured"
        refused = await client.post(
            f"/api/v1/approvals/{unreviewed['id']}/approve",
            json={"sha256": unreviewed["sha256"]},
            headers=_bearer(other),
        )
        assert (
            refused.status == 409
            and "require_llm_review" in (await refused.json())["error"]["message"]
        )
        fake = FakeOllama()
        await fake.start()
        try:
            fake.responder = lambda body: '{"findings": []}'
            config.write_text(config.read_text() + f"llm: {{url: '{fake.url}', timeout: 5}}\n")
            await reload(state, "test")
            reviewed = (
                await (
                    await client.post("/api/v1/devices/r2/plan", headers=_bearer(planner))
                ).json()
            )["change"]
            assert reviewed["llm"] == "passed" and fake.requests[-1][0] == "/api/chat"
            ok = await client.post(
                f"/api/v1/approvals/{reviewed['id']}/approve",
                json={"sha256": reviewed["sha256"]},
                headers=_bearer(other),
            )
            assert ok.status == 200
        finally:
            await fake.stop()

        # a template that needs data the device lacks: 422 naming template, line and variable
        hosts = state.core.snapshot.inventory_dir / "defaults.yaml"
        hosts.write_text(
            hosts.read_text().replace("  ntp_servers: [10.255.255.1, 10.255.255.2]\n", "")
        )
        await reload(state, "test")
        broken = await client.get("/api/v1/devices/r1/intended", headers=_bearer(other))
        error = (await broken.json())["error"]
        assert broken.status == 422 and error["code"] == "config_error"
        assert "ios/ntp.j2:2" in error["message"] and "ntp_servers" in error["message"]
        assert (await client.post("/api/v1/devices/r1/plan", headers=_bearer(other))).status == 422
        # the id is an integer in the spec, so anything else is not a route
        assert (await client.get("/api/v1/approvals/abc", headers=_bearer(other))).status == 404
        assert (await client.get("/api/v1/approvals/3%C2%B3", headers=_bearer(other))).status == 404
        too_big = await client.get("/api/v1/approvals/" + "9" * 30, headers=_bearer(other))
        assert too_big.status == 400
        assert (await client.get("/api/v1/approvals/999", headers=_bearer(other))).status == 404

        # an unreachable device is a failed plan (data), not a server error
        hosts.write_text(hosts.read_text() + "  ntp_servers: [10.255.255.1]\n")
        await reload(state, "test")
        await ssh_lab.stop("r2")
        down = await client.post("/api/v1/devices/r2/plan", headers=_bearer(other))
        failed = await down.json()
        assert down.status == 200 and failed["change"] is None and not failed["in_sync"]
        assert "could not read the running config" in failed["error"]
    finally:
        await client.close()


async def test_restore_a_stored_version_through_the_api(ssh_lab, tmp_path: Path):
    client, keys = await _start(tmp_path, ssh_lab.ports)
    try:
        viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
        for change in (None, "logging host 192.0.2.50"):  # two stored versions
            if change:
                ssh_lab.sims["r1"].device.config_command(None, change)
            backup = await client.post(
                "/api/v1/configs/backup", json={"name": "r1"}, headers=_bearer(operator)
            )
            assert backup.status == 200
        versions = await (
            await client.get("/api/v1/devices/r1/configs", headers=_bearer(viewer))
        ).json()
        old = versions["items"][-1]["id"]
        url = f"/api/v1/devices/r1/configs/{old}/restore"
        assert (await client.post(url, headers=_bearer(viewer))).status == 403
        missing = await client.post(
            "/api/v1/devices/r1/configs/deadbeef/restore", headers=_bearer(operator)
        )
        assert missing.status == 404

        planned = await client.post(url, headers=_bearer(operator))
        plan = await planned.json()
        assert planned.status == 200, plan
        change = plan["change"]
        assert change["kind"] == "restore" and change["source"] == old
        assert change["commands"] == ["no logging host 192.0.2.50"]
        approved = await client.post(
            f"/api/v1/approvals/{change['id']}/approve",
            json={"sha256": change["sha256"]},
            headers=_bearer(operator),
        )
        assert approved.status == 200
        deployed = await client.post(
            f"/api/v1/approvals/{change['id']}/deploy", headers=_bearer(operator)
        )
        result = await deployed.json()
        assert deployed.status == 200 and result["status"] == "deployed", result
        assert "logging host" not in ssh_lab.sims["r1"].device.show_running_config()
    finally:
        await client.close()
