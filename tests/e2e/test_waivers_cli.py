"""`genosd waivers add|list|revoke` on the state database, audited with the local user."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_validate_file import _genosd


def test_add_list_revoke_and_refusals(tmp_path: Path):
    templates = Path(__file__).parent.parent.parent / "templates"
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\nconfigs: {{templates_dir: {templates}}}\n"
    )
    c = ("--config", str(tmp_path / "genosd.yaml"))
    added = _genosd(
        "waivers",
        "add",
        "--rule",
        "ios-snmp-community-acl",
        "--group",
        "branch",
        "--reason",
        "branch NMS polls from a pool that changes",
        "--owner",
        "noc",
        "--days",
        "30",
        "--json",
        *c,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    waiver = json.loads(added.stdout)
    assert waiver["group"] == "branch" and waiver["created_by"].startswith("cli:")

    listed = _genosd("waivers", "list", "--json", *c, cwd=tmp_path)
    assert [w["id"] for w in json.loads(listed.stdout)] == [waiver["id"]]

    unknown = _genosd(
        "waivers",
        "add",
        "--rule",
        "nope",
        "--reason",
        "because it is fine",
        "--owner",
        "x",
        "--days",
        "1",
        *c,
        cwd=tmp_path,
    )
    assert unknown.returncode == 2 and "no compliance rule 'nope'" in unknown.stderr
    short = _genosd(
        "waivers",
        "add",
        "--rule",
        "ios-snmp-community-acl",
        "--reason",
        "why",
        "--owner",
        "x",
        "--days",
        "1",
        *c,
        cwd=tmp_path,
    )
    assert short.returncode == 2 and "reason" in short.stderr

    revoked = _genosd("waivers", "revoke", str(waiver["id"]), *c, cwd=tmp_path)
    assert revoked.returncode == 0
    assert json.loads(_genosd("waivers", "list", "--json", *c, cwd=tmp_path).stdout) == []
    every = json.loads(_genosd("waivers", "list", "--all", "--json", *c, cwd=tmp_path).stdout)
    assert every[0]["revoked_by"].startswith("cli:")
    trail = _genosd("audit", "export", "--action", "add_waiver", *c, cwd=tmp_path)
    assert json.loads(trail.stdout)[0]["details"]["rule"] == "ios-snmp-community-acl"


def test_the_compliance_report_from_the_cli(tmp_path: Path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text("r1: {hostname: 192.0.2.1, platform: ios}\n")
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n"
    )
    c = ("--config", str(tmp_path / "genosd.yaml"))
    html = _genosd("config", "report", "--format", "html", "-o", "report.html", *c, cwd=tmp_path)
    assert html.returncode == 0, html.stderr
    assert "0 of 1 devices" in html.stderr
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "not checked" in page
    as_json = json.loads(_genosd("config", "report", *c, cwd=tmp_path).stdout)
    assert as_json["devices"] == 1 and as_json["items"][0]["device"] == "r1"
    bad = _genosd("config", "report", "--format", "pdf", *c, cwd=tmp_path)
    assert bad.returncode == 2
