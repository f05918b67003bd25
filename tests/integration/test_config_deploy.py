"""Plan → approve → deploy → verify against the SSH lab; rollback on a failed post-check or a cut session."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from hier_config import Platform, WorkflowRemediation, get_hconfig

from genosd.app.lifecycle import DevicePlan, Lifecycle
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.config.changes import approve_change, create_change, get_change, start_deploy
from genosd.config.normalize import strip_volatile
from genosd.errors import ConflictError, InvalidRequestError
from genosd.platforms import platform
from genosd.statedb import connect, state_db_path
from tests.ssh_lab import write_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

LOOPBACK_UP = (
    ", post_checks: [{name: loopback-up, command: show ip interface brief, "
    "must_match: '^Loopback0 +\\S+ +YES \\S+ +up +up'}]"
)


def _lifecycle(
    tmp_path: Path, ports: dict[str, int], configs: str = ""
) -> tuple[Lifecycle, sqlite3.Connection]:
    config, secrets = write_setup(tmp_path, ports, configs=configs)
    state = build_runtime(Sources(config, None, (secrets,)))
    lifecycle = state.core.lifecycle
    return lifecycle, connect(state_db_path(state.core.settings.state_dir))


def _running(ssh_lab, name: str) -> str:
    return strip_volatile(platform("ios"), ssh_lab.sims[name].device.show_running_config())


def _same_config(a: str, b: str) -> bool:
    left, right = get_hconfig(Platform.CISCO_IOS, a), get_hconfig(Platform.CISCO_IOS, b)
    flow = WorkflowRemediation(left, right)
    return not tuple(flow.remediation_config.children) and not tuple(flow.rollback_config.children)


async def _plan(
    lifecycle: Lifecycle, db: sqlite3.Connection, name: str
) -> tuple[DevicePlan, str, int]:
    [plan] = await asyncio.to_thread(lifecycle.plan, [lifecycle.device(name)])
    assert plan.error is None, plan.error
    assert plan.report is not None and plan.sha256 is not None
    change = create_change(
        db,
        device=name,
        kind="render",
        sha256=plan.sha256,
        commands=plan.commands,
        rollback=plan.rollback,
        diff=plan.diff,
        findings=plan.report.findings,
        actor="test:planner",
        ttl=600,
    )
    return plan, plan.sha256, change.id


async def test_plan_approve_deploy_converges_then_nothing_left(ssh_lab, tmp_path: Path):
    lifecycle, db = _lifecycle(tmp_path, ssh_lab.ports)
    before = _running(ssh_lab, "r1")
    plan, sha, change_id = await _plan(lifecycle, db, "r1")
    assert "ntp server 10.255.255.1" in plan.commands and "aaa new-model" in plan.commands
    assert "snmp-server community" not in "\n".join(plan.commands)  # already right: not sent
    assert plan.report is not None
    assert plan.report.blocking == [] and plan.report.score == 100.0
    assert _running(ssh_lab, "r1") == before  # a plan never touches the device

    with pytest.raises(InvalidRequestError, match="does not match"):
        approve_change(db, change_id, sha256="0" * 64, actor="test:approver")
    with pytest.raises(ConflictError, match="not approved"):
        start_deploy(db, change_id)
    approve_change(db, change_id, sha256=sha, actor="test:approver")
    change = start_deploy(db, change_id, device="r1")
    outcome, saved = await asyncio.to_thread(lifecycle.deploy, change, "test:approver")
    assert outcome.status == "deployed", outcome.reason
    assert outcome.sha256 == plan.sha256 and outcome.sent >= len(plan.commands)
    running = _running(ssh_lab, "r1")
    assert "ntp server 10.255.255.2" in running and "ip ssh version 2" in running
    assert "username admin privilege 15 secret" in running  # not owned by a feature: untouched
    assert ssh_lab.sims["r1"].device.startup.count("ntp server") == 2  # written to startup
    assert saved is not None and saved.ok and saved.changed
    assert lifecycle.history.versions("r1")[0].author == "test:approver"

    [again] = await asyncio.to_thread(lifecycle.plan, [lifecycle.device("r1")])
    assert again.commands == [] and again.error is None


async def test_a_changed_device_makes_the_approval_stale_and_nothing_is_sent(ssh_lab, tmp_path):
    lifecycle, db = _lifecycle(tmp_path, ssh_lab.ports)
    plan, sha, change_id = await _plan(lifecycle, db, "r2")
    approve_change(db, change_id, sha256=sha, actor="test:approver")
    ssh_lab.sims["r2"].device.config_command(None, "ntp server 192.0.2.99")  # someone else's change
    before = _running(ssh_lab, "r2")
    outcome, _ = await asyncio.to_thread(lifecycle.deploy, start_deploy(db, change_id), "t")
    assert outcome.status == "stale" and outcome.sent == 0
    assert outcome.sha256 != plan.sha256
    assert _running(ssh_lab, "r2") == before


async def test_failing_post_check_rolls_back_to_the_exact_previous_config(ssh_lab, tmp_path):
    lifecycle, db = _lifecycle(tmp_path, ssh_lab.ports, configs=LOOPBACK_UP)
    hosts = lifecycle.settings.inventory_dir / "hosts.yaml"
    # the template data shuts Loopback0: the change applies, then the post-check sees it down
    hosts.write_text(
        hosts.read_text().replace(
            "Loopback0: {address: 10.255.0.1/32}",
            "Loopback0: {address: 10.255.0.1/32, shutdown: true}",
        )
    )
    state = build_runtime(
        Sources(lifecycle.settings.state_dir.parent / "genosd.yaml", None, (tmp_path / "secrets",))
    )
    lifecycle = state.core.lifecycle
    before = _running(ssh_lab, "r1")
    plan, sha, change_id = await _plan(lifecycle, db, "r1")
    assert "interface Loopback0" in plan.commands
    approve_change(db, change_id, sha256=sha, actor="test:approver")
    outcome, _ = await asyncio.to_thread(lifecycle.deploy, start_deploy(db, change_id), "t")
    assert outcome.status == "rolled_back", outcome.reason
    assert "loopback-up" in (outcome.reason or "")
    assert outcome.rollback == "verified"
    assert [c["ok"] for c in outcome.post_checks] == [False]
    after = _running(ssh_lab, "r1")
    assert _same_config(before, after)
    assert sorted(before.splitlines()) == sorted(after.splitlines())


async def test_session_cut_mid_deploy_leaves_the_device_rolled_back(ssh_lab, tmp_path: Path):
    lifecycle, db = _lifecycle(tmp_path, ssh_lab.ports)
    before = _running(ssh_lab, "r2")
    _, sha, change_id = await _plan(lifecycle, db, "r2")
    # the session drops when the NTP lines arrive, after the AAA lines were applied
    (ssh_lab.directory / "r2.faults.json").write_text(json.dumps({"drop": ["^ntp server"]}))
    approve_change(db, change_id, sha256=sha, actor="test:approver")
    outcome, _ = await asyncio.to_thread(lifecycle.deploy, start_deploy(db, change_id), "t")
    (ssh_lab.directory / "r2.faults.json").unlink()
    assert outcome.status in ("rolled_back", "failed"), outcome
    assert outcome.rollback == "verified", outcome
    assert _same_config(before, _running(ssh_lab, "r2"))
    assert get_change(db, change_id).status == "deploying"  # the caller records the end
