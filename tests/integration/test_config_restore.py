"""Restore a stored version through the approval path: secrets from the live config, whole scope."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from genosd.app.lifecycle import Lifecycle
from genosd.config.backup import backup
from genosd.config.changes import approve_change, create_change, start_deploy
from genosd.config.normalize import strip_volatile
from genosd.config.secrets import generic
from genosd.errors import NotFoundError
from genosd.platforms import platform
from tests.integration.test_config_deploy import _lifecycle, _running, _same_config

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

IOS = platform("ios")


def _backup(lifecycle: Lifecycle, name: str) -> str:
    device = lifecycle.device(name)
    assert device.ssh is not None
    history, known = lifecycle.history, lifecycle.known_hosts
    [result] = backup([device.ssh], history, known, mask_key=lifecycle.mask_key)
    assert result.ok, result.error
    return lifecycle.history.versions(name)[0].id


async def test_restore_an_old_version_through_the_approval_path(ssh_lab, tmp_path: Path):
    lifecycle, db = _lifecycle(tmp_path, ssh_lab.ports)
    old = await asyncio.to_thread(_backup, lifecycle, "r1")
    before = _running(ssh_lab, "r1")
    r1 = ssh_lab.sims["r1"].device
    # an engineer's change out of band: new NTP, a new user, the loopback gone
    for command in (
        "ntp server 192.0.2.123",
        "username temp privilege 1 secret 9 $9$tempsecret",
        "no interface Loopback0",
    ):
        r1.config_command(None, command)
    new = await asyncio.to_thread(_backup, lifecycle, "r1")
    assert new != old

    plan = await asyncio.to_thread(lifecycle.plan_restore, lifecycle.device("r1"), old[:10])
    assert plan.error is None and plan.report is not None and plan.sha256
    assert "no ntp server 192.0.2.123" in plan.commands
    assert "interface Loopback0" in plan.commands
    assert any(c.startswith("no username temp") for c in plan.commands)
    assert "$9$tempsecret" not in "\n".join(plan.commands + plan.diff)  # shown masked
    assert not [f for f in plan.report.findings if f.layer == "restore"]
    change = create_change(
        db,
        device="r1",
        kind="restore",
        sha256=plan.sha256,
        commands=plan.commands,
        rollback=plan.rollback,
        diff=plan.diff,
        findings=plan.report.findings,
        actor="test:planner",
        ttl=600,
        source=old[:10],
    )
    approve_change(db, change.id, sha256=plan.sha256, actor="test:approver")
    outcome, saved = await asyncio.to_thread(
        lifecycle.deploy, start_deploy(db, change.id), "test:approver"
    )
    assert outcome.status == "deployed", outcome.reason
    after = _running(ssh_lab, "r1")
    assert _same_config(before, after)  # back to the old version, secrets included
    assert "$9$oNguEA9um9vRx" in after  # the admin secret survived, taken from the live config
    assert saved is not None and saved.changed
    newest = lifecycle.history.versions("r1")[0]
    assert newest.author == "test:approver"
    assert _same_config(lifecycle.history.show("r1", newest.id), lifecycle.history.show("r1", old))


async def test_a_restore_missing_a_secret_says_so_and_unknown_versions_are_404(ssh_lab, tmp_path):
    lifecycle, _ = _lifecycle(tmp_path, ssh_lab.ports)
    old = await asyncio.to_thread(_backup, lifecycle, "r2")
    ssh_lab.sims["r2"].device.config_command(None, "no snmp-server community s3cret-community RO")
    plan = await asyncio.to_thread(lifecycle.plan_restore, lifecycle.device("r2"), old)
    assert plan.report is not None
    [finding] = [f for f in plan.report.findings if f.layer == "restore"]
    assert finding.rule == "secret-not-restorable" and finding.severity == "major"
    assert finding.text is not None
    assert generic(finding.text) == "snmp-server community <masked> RO"
    assert not [c for c in plan.commands if "community" in c]  # cannot be restored: not sent
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(lifecycle.plan_restore, lifecycle.device("r2"), "0" * 40)
    assert strip_volatile(IOS, ssh_lab.sims["r2"].device.show_running_config())  # untouched
