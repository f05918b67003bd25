"""Waivers: accepted over the API by an admin, audited, applied to findings (waived, not passed,
not blocking), and gone when expired or revoked."""

from __future__ import annotations

import time
from pathlib import Path

from genosd.auth.keys import Role
from genosd.config.findings import Finding, blocking
from genosd.config.rules import load_rules
from genosd.config.secrets import Masker
from genosd.config.validate import ValidationReport, check_rules
from genosd.config.waivers import Waiver, apply_waivers
from genosd.inventory import Device
from genosd.platforms import platform
from tests.api.test_events_ws import _bearer


def _device(name: str, groups: tuple[str, ...] = ()) -> Device:
    return Device(name=name, hostname=name, platform="ios", groups=groups, tags=(), data={})


def _waiver(**scope: str | None) -> Waiver:
    now = time.time()
    return Waiver(
        id=7,
        rule="vty-ssh-only",
        reason="console server",
        owner="noc",
        created_by="t",
        created_at=now,
        expires_at=now + 60,
        **scope,
    )


def test_a_waived_finding_is_reported_but_neither_passes_nor_blocks():
    finding = Finding(layer="rules", rule="vty-ssh-only", severity="critical", message="telnet")
    other = Finding(layer="rules", rule="ntp-configured", severity="major", message="no ntp")
    report = ValidationReport("r1", [finding, other], rules_applied=4, rules_passed=2)
    assert report.score == 50.0 and blocking(report.findings) == [finding]
    apply_waivers(report.findings, _device("r1"), [_waiver(device="r1")], time.time())
    assert finding.waiver == 7 and other.waiver is None
    assert blocking(report.findings) == [] and report.rules_waived == 1
    assert report.score == round(100 * 2 / 3, 1)  # 2 passed of the 3 rules not waived


def test_check_rules_marks_waived_findings_of_a_real_rule_set():
    rules = load_rules([Path(__file__).parent.parent.parent / "templates" / "rules"])
    config = "hostname r1\nline vty 0 4\n transport input telnet\n"
    device = _device("r1")
    plain = check_rules(device, Masker(platform("ios")), config, rules)
    waived = check_rules(device, Masker(platform("ios")), config, rules, [_waiver(device="r1")])
    assert any(f.rule == "vty-ssh-only" and f.waiver is None for f in plain.findings)
    assert [f.waiver for f in waived.findings if f.rule == "vty-ssh-only"] == [7]
    assert waived.score > plain.score and not blocking(waived.findings)


def test_scope_and_expiry_decide_which_findings_a_waiver_covers():
    now = time.time()

    def waived(waiver: Waiver, device: Device, at: float = now) -> bool:
        finding = Finding(layer="rules", rule="vty-ssh-only", severity="critical", message="m")
        return apply_waivers([finding], device, [waiver], at)[0].waiver is not None

    assert waived(_waiver(group="core"), _device("r2", ("core",)))
    assert not waived(_waiver(group="core"), _device("r3", ("access",)))
    assert waived(_waiver(), _device("anything"))
    assert not waived(_waiver(device="r1"), _device("r1"), at=now + 120)  # expired


async def test_waivers_over_the_api_are_admin_only_audited_and_revocable(api):
    client, keys = await api()
    admin, viewer = _bearer(keys.make(Role.admin)), _bearer(keys.make(Role.viewer))
    body = {
        "rule": "no-public-community",
        "device": "sw1",
        "reason": "legacy NMS until the March migration",
        "owner": "noc@example.net",
        "expires_at": time.time() + 30 * 86400,
    }
    assert (await client.post("/api/v1/waivers", json=body, headers=viewer)).status == 403
    created = await client.post("/api/v1/waivers", json=body, headers=admin)
    assert created.status == 201
    waiver = await created.json()
    listed = await (await client.get("/api/v1/waivers", headers=viewer)).json()
    assert [w["id"] for w in listed["items"]] == [waiver["id"]]

    unknown = await client.post(
        "/api/v1/waivers", json={**body, "rule": "no-such-rule"}, headers=admin
    )
    assert unknown.status == 400 and "no-such-rule" in await unknown.text()
    too_long = await client.post(
        "/api/v1/waivers", json={**body, "expires_at": time.time() + 400 * 86400}, headers=admin
    )
    assert too_long.status == 400
    both = await client.post("/api/v1/waivers", json={**body, "group": "access"}, headers=admin)
    assert both.status == 400

    revoked = await client.delete(f"/api/v1/waivers/{waiver['id']}", headers=admin)
    assert revoked.status == 200 and (await revoked.json())["revoked_at"] is not None
    assert (await (await client.get("/api/v1/waivers", headers=viewer)).json())["items"] == []
    every = await (await client.get("/api/v1/waivers?all=true", headers=viewer)).json()
    assert len(every["items"]) == 1
    assert (await client.delete("/api/v1/waivers/999", headers=admin)).status == 404
    trail = await (await client.get("/api/v1/audit", params={"limit": "50"}, headers=admin)).json()
    actions = [e["action"] for e in trail["items"]]
    assert "add_waiver" in actions and "revoke_waiver" in actions
