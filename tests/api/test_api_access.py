"""Authentication, roles, rate limits, validation and errors, walked over the generated spec."""

from __future__ import annotations

import re
import sqlite3

import pytest

from genosd import audit
from genosd.api.context import RUNTIME
from genosd.api.edge import EDGE
from genosd.auth.keys import Role


def _auth(secret: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"} if secret else {}


def _concrete(path: str) -> str:
    return re.sub(
        r"{(\w+)}",
        lambda m: {
            "name": "sw1",
            "key_id": "999999",
            "version": "0000000",
            "id": "1",
            "session": "0123456789abcdef",
            "turn": "1",
            "kind": "health",
        }[m[1]],
        path,
    )


async def test_every_route_of_the_spec_refuses_bad_keys_and_low_roles(api):
    # every route is probed without a valid key: more than one address's budget for that
    client, keys = await api("api: {unauthenticated_burst: 100000}\n")
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    operations = [
        (path, method.upper(), op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]
    assert len(operations) >= 10
    bad_keys = {
        "missing": None,
        "malformed": "not-a-key",
        "unknown": "gnd_deadbeef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "revoked": keys.make(Role.admin, revoked=True),
        "expired": keys.expired(Role.admin),
    }
    by_role = {role: keys.make(role) for role in Role}
    for path, method, op in operations:
        url = _concrete(path)
        if path == "/api/v1/health":
            assert op["security"] == []
            assert (await client.request(method, url)).status == 200
            continue
        if "x-genosd-signed-by" in op:  # a chat platform's request URL: its own signature, no key
            assert op["security"] == []
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            response = await client.request(method, url, data="text=status", headers=form)
            assert response.status in (401, 404), (method, path)  # 404: the platform is off
            continue
        required = Role(op["x-genosd-role"])
        for label, secret in bad_keys.items():
            response = await client.request(method, url, headers=_auth(secret), json={})
            body = await response.json()
            assert response.status == 401, (method, path, label)
            assert body["error"]["code"] == "unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        for role, secret in by_role.items():
            response = await client.request(method, url, headers=_auth(secret), json={})
            if role.allows(required):
                assert response.status not in (401, 403), (method, path, role)
            else:
                assert response.status == 403, (method, path, role)
                assert (await response.json())["error"]["code"] == "forbidden"
    # X-API-Key works as well as Bearer
    ok = await client.get("/api/v1/devices", headers={"X-API-Key": by_role[Role.viewer]})
    assert ok.status == 200


async def test_keys_are_shown_once_revocation_is_immediate_and_everything_is_audited(api):
    client, keys = await api()
    admin = _auth(keys.make(Role.admin))
    created = await client.post(
        "/api/v1/keys", headers=admin, json={"name": "grafana", "role": "operator"}
    )
    assert created.status == 201
    new = await created.json()
    secret = new["secret"]
    assert secret.startswith("gnd_" + new["prefix"]) and len(secret) > 40
    listed = await (await client.get("/api/v1/keys", headers=admin)).json()
    assert secret not in str(listed) and new["prefix"] in str(listed)
    assert (await client.get("/api/v1/devices", headers=_auth(secret))).status == 200
    revoked = await client.delete(f"/api/v1/keys/{new['prefix']}", headers=admin)
    assert revoked.status == 200 and (await revoked.json())["active"] is False
    assert (await client.get("/api/v1/devices", headers=_auth(secret))).status == 401
    # a refused state-changing request is audited as denied (aggregated per minute: flush now)
    viewer = _auth(keys.make(Role.viewer))
    assert (await client.post("/api/v1/devices/sw1/poll", headers=viewer)).status == 403
    app = client.server.app
    await app[EDGE].refusals.flush(app[RUNTIME].core.db)
    log = await (await client.get("/api/v1/audit", headers=admin)).json()
    entries = [(e["action"], e["result"], e["actor"].split(":")[0]) for e in log["items"]]
    assert entries == [
        ("poll_device_now", "denied", "key"),
        ("create_api_key", "ok", "test"),  # the viewer key, made like the CLI does
        ("revoke_api_key", "ok", "key"),
        ("create_api_key", "ok", "key"),  # through the API by the admin key
        ("create_api_key", "ok", "test"),  # the admin key
    ]
    assert log["items"][2]["actor"] == log["items"][3]["actor"] and log["total"] == 5
    csv_export = await client.get("/api/v1/audit/export?format=csv", headers=admin)
    assert csv_export.headers["Content-Type"].startswith("text/csv")
    lines = (await csv_export.text()).strip().splitlines()
    assert lines[0].startswith("id,time,actor,action") and len(lines) == 6


async def test_operator_can_poll_now_and_the_poll_is_audited(api):
    client, keys = await api()
    operator = _auth(keys.make(Role.operator))
    response = await client.post("/api/v1/devices/sw1/poll", headers=operator)
    body = await response.json()
    assert response.status == 200 and body["ok"] and body["interfaces"] >= 1
    dead = await (await client.post("/api/v1/devices/r1/poll", headers=operator)).json()
    assert dead["ok"] is False and dead["error"]
    entries = audit.search(keys.db, audit.AuditQuery(action="poll_device_now"), limit=10, offset=0)
    assert [e.result for e in entries[0]] == ["failed", "ok"]
    assert all(e.target.startswith("device:") for e in entries[0])


async def test_rate_limit_per_key_answers_429_with_retry_after(api):
    client, keys = await api("api:\n  rate_limit_per_minute: 60\n  rate_limit_burst: 5\n")
    first, second = _auth(keys.make(Role.viewer)), _auth(keys.make(Role.viewer))
    statuses = [(await client.get("/api/v1/tags", headers=first)).status for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = await client.get("/api/v1/tags", headers=first)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert (await client.get("/api/v1/tags", headers=second)).status == 200  # per key


async def test_bad_requests_get_400_with_the_field_and_unknown_routes_the_error_body(api):
    client, keys = await api()
    admin = _auth(keys.make(Role.admin))
    bad_role = await client.post("/api/v1/keys", headers=admin, json={"name": "x", "role": "root"})
    body = await bad_role.json()
    assert bad_role.status == 400 and body["error"]["code"] == "invalid_request"
    assert body["error"]["details"][0]["field"] == "role"
    not_json = await client.post("/api/v1/keys", headers=admin, data=b"{nope")
    assert not_json.status == 400
    for query in ("limit=0", "offset=-1", "colour=blue", "status=sideways"):
        response = await client.get(f"/api/v1/devices?{query}", headers=admin)
        assert response.status == 400, query
    missing = await client.get("/api/v1/devices/nope", headers=admin)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    nowhere = await client.get("/api/v1/nowhere", headers=admin)
    assert nowhere.status == 404 and "error" in await nowhere.json()
    wrong_method = await client.put("/api/v1/devices", headers=admin)
    assert wrong_method.status == 405 and "GET" in wrong_method.headers["Allow"]


async def test_filters_pagination_groups_tags_and_system(api):
    client, keys = await api()
    viewer = _auth(keys.make(Role.viewer))
    page = await (await client.get("/api/v1/devices?tag=lab&limit=1", headers=viewer)).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["items"][0]["name"] == "r1"
    site = await (await client.get("/api/v1/devices?site=fra1", headers=viewer)).json()
    assert [d["name"] for d in site["items"]] == ["sw1"]
    groups = await (await client.get("/api/v1/groups", headers=viewer)).json()
    assert {g["name"]: g["devices"] for g in groups["items"]} == {"access": 1, "core": 1}
    tags = await (await client.get("/api/v1/tags", headers=viewer)).json()
    assert {t["name"]: t["devices"] for t in tags["items"]} == {"floor1": 1, "lab": 2}
    system = await (await client.get("/api/v1/system", headers=viewer)).json()
    assert {b["name"] for b in system["backends"]} >= {"metrics-store", "state-db"}


async def test_settings_summary_hides_every_secret(api):
    client, keys = await api(
        "plugins:\n  chatops:\n    slack:\n      channel: noc\n",
        secrets={"plugins__chatops__slack__signing_secret": "hush-hush"},
    )
    response = await client.get("/api/v1/system/settings", headers=_auth(keys.make(Role.admin)))
    text = await response.text()
    assert response.status == 200
    assert "public" not in text and "hush-hush" not in text
    settings = (await response.json())["settings"]
    assert settings["credentials"]["ro"]["community"] == "**********"
    assert settings["plugins"]["chatops"]["slack"] == {
        "channel": "noc",
        "signing_secret": "**********",
    }


def test_audit_log_is_append_only_and_its_chain_shows_tampering(tmp_path):
    from genosd.statedb import connect

    db = connect(tmp_path / "state.sqlite3")
    for n in range(3):
        audit.record(db, actor="cli:test", action="create_api_key", target=f"key:{n}")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'someone-else' WHERE id = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit WHERE id = 2")
    assert audit.verify_chain(db) is None
    # someone with file access drops the trigger and edits history: the chain shows where
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET actor = 'someone-else' WHERE id = 2")
    assert audit.verify_chain(db) == 2


def test_deleting_the_newest_audit_entries_is_detected_by_the_head(tmp_path):
    from genosd.statedb import connect

    db = connect(tmp_path / "state.sqlite3")
    for n in range(5):
        audit.record(db, actor="cli:test", action="create_api_key", target=f"key:{n}")
    assert audit.verify(db) == [] and audit.head(db) is not None
    # someone drops the trigger and removes the two newest rows: the chain alone still checks out
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE id > 3")
    assert audit.verify_chain(db) is None
    assert audit.verify(db) == [
        "the head file anchors entry 5 but the log ends at 3: the newest 2 entries were removed"
    ]


def test_audit_fields_are_bounded(tmp_path):
    from genosd.statedb import connect

    db = connect(tmp_path / "state.sqlite3")
    entry = audit.record(
        db, actor="x" * 5000, action="a" * 5000, target="t" * 9000, details={"p": "d" * 10_000}
    )
    row = db.execute("SELECT actor, action, target, details FROM audit WHERE id = ?", (entry.id,))
    actor, action, target, details = row.fetchone()
    assert (len(actor), len(action), len(target)) == (128, 128, 512) and len(details) < 4200
    assert audit.verify(db) == []
