"""Playbooks that change devices, against simulated IOS routers over real SSH: plan → approval
gate bound to the diffs → deploy, limited to some features; a batch that fails after its deploy
rolled back and the run stopped; group retries of failed hosts only; a hanging step cut by its
timeout; cancel; a run cut by a crash resumed without re-deploying what finished."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hier_config import Platform, WorkflowRemediation, get_hconfig

from genosd.app.core import AppCore, tool_core
from genosd.app.playbook_engine import finish_run
from genosd.app.playbook_gates import approve, recover_orphans, reject, resume
from genosd.app.playbook_records import Cursor, RunRecord, load_run, request_cancel, save_run
from genosd.app.playbooks import begin
from genosd.app.snapshot import Sources, load_snapshot
from genosd.config.changes import get_change, list_changes
from genosd.config.normalize import strip_volatile
from genosd.errors import ConflictError, InvalidRequestError
from genosd.lab.ios_config import RunningConfig
from genosd.platforms import platform
from genosd.playbooks.loader import load_playbook
from genosd.playbooks.model import Playbook

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

SHIPPED = Path(__file__).parent.parent.parent / "playbooks"


def _running(ssh_lab: Any, name: str) -> str:
    return strip_volatile(platform("ios"), ssh_lab.sims[name].device.show_running_config())


def _same(a: str, b: str) -> bool:
    flow = WorkflowRemediation(
        get_hconfig(Platform.CISCO_IOS, a), get_hconfig(Platform.CISCO_IOS, b)
    )
    return not tuple(flow.remediation_config.children) and not tuple(flow.rollback_config.children)


def _snapshot(tmp_path: Path, ssh_lab: Any, settings: str = "", configs: str = "") -> Any:
    from tests.ssh_lab import write_setup

    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings="ssh: {host_key_policy: accept-new}\n" + settings,
        configs=configs,
    )
    return load_snapshot(Sources(config, None, (secrets,)))


def _playbook(tmp_path: Path, text: str) -> Playbook:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_playbook(path)


def _hosts(record: RunRecord, step: str, batch: int | None = None) -> dict[str, Any]:
    return {
        n: r
        for s in record.steps
        if s.step == step and batch in (None, s.batch)
        for n, r in s.hosts.items()
    }


async def _approve_and_go_on(core: AppCore, record: RunRecord, actor: str) -> RunRecord:
    assert record.status == "waiting_approval" and record.gate is not None
    claimed = await approve(core, record.id or 0, actor, record.gate.sha256)
    return await finish_run(core, Playbook.model_validate(claimed.definition), claimed)


async def test_standardisation_waits_for_approval_and_deploys_only_its_features(
    ssh_lab, tmp_path: Path
):
    snapshot = _snapshot(tmp_path, ssh_lab, configs=", four_eyes: true")
    events: list[dict[str, Any]] = []
    before = {name: _running(ssh_lab, name) for name in ("r1", "r2")}
    async with tool_core(snapshot) as core:
        core.events.listeners.append(lambda e: events.append(e.data) if e.topic == "run" else None)
        playbook = load_playbook(SHIPPED / "ntp-snmp-aaa-standard.yaml")
        record = await begin(core, playbook, {}, actor="test:planner")
        record = await finish_run(core, playbook, record)
        # batch 1 (the canary, r1) stops at the gate; nothing was pushed anywhere
        assert record.status == "waiting_approval" and record.batches == [["r1"], ["r2"]]
        gate = record.gate
        assert gate is not None and gate.role == "admin"
        assert [c["device"] for c in gate.changes] == ["r1"]
        assert any(
            "ntp server 10.255.255.1" in line
            for line in _hosts(record, "plan ntp, snmp and aaa")["r1"].data["diff"]
        )
        assert all(_running(ssh_lab, n) == before[n] for n in ("r1", "r2"))
        assert any(
            e["status"] == "waiting_approval" and e["gate"]["sha256"] == gate.sha256 for e in events
        )

        with pytest.raises(InvalidRequestError, match="does not match"):
            await approve(core, record.id or 0, "test:admin", "0" * 64)
        with pytest.raises(ConflictError, match="four_eyes"):
            await approve(core, record.id or 0, "test:planner", gate.sha256)
        assert (await core.db.run(load_run, record.id or 0)).status == "waiting_approval"

        record = await _approve_and_go_on(core, record, "test:admin")
        assert record.status == "waiting_approval" and record.cursor.batch == 1  # r2's gate
        running = _running(ssh_lab, "r1")
        assert "ntp server 10.255.255.1" in running and "aaa new-model" in running
        assert _running(ssh_lab, "r2") == before["r2"]  # its batch is not approved yet

        record = await _approve_and_go_on(core, record, "test:admin")
        assert record.status == "ok", record.stopped_because
        assert {h: r.status for h, r in _hosts(record, "deploy", 1).items()} == {"r2": "changed"}
        assert all(r.data["in_sync"] for r in _hosts(record, "confirm nothing is left").values())
        changes = await core.db.run(lambda db: list_changes(db))
        deployed = [c for c in changes if c.status == "deployed"]
        assert sorted(c.device for c in deployed) == ["r1", "r2"]
        assert all(
            c.features == ["ntp", "snmp", "aaa"] and c.approved_by == "test:admin" for c in deployed
        )
        # only those features moved: the interfaces feature still has work for a full plan
        [full] = await asyncio.to_thread(core.lifecycle.plan, [core.inventory.device("r1")])
        assert full.commands and not any(c.startswith("ntp ") for c in full.commands)


async def test_a_batch_failing_after_its_deploy_is_rolled_back_and_the_run_stops(
    ssh_lab, tmp_path: Path
):
    snapshot = _snapshot(tmp_path, ssh_lab)
    before = {name: _running(ssh_lab, name) for name in ("r1", "r2")}
    text = """name: rollout
rollout: {batches: [1, 1], max_failures: 0, rollback_batch: true}
steps:
  - plan: {features: [ntp, aaa]}
  - approval: {message: go}
  - deploy: {}
  - name: post check
    assert: {that: ["host.name != 'r2'"], fail_msg: "r2 broke"}
  - name: never reached on r2
    notify: {message: "{{ host.name }} done"}
"""
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
        record = await _approve_and_go_on(core, record, "test:approver")  # r1: ok
        record = await _approve_and_go_on(core, record, "test:approver")  # r2: fails, undone
        assert record.status == "stopped" and record.failed_hosts == ["r2"]
        assert "batch 2: 1 of 1 hosts failed" in (record.stopped_because or "")
        assert _hosts(record, "post check")["r2"].error == "r2 broke"
        assert "r2" not in _hosts(record, "never reached on r2")
        [undo] = [s for s in record.steps if s.action == "rollback"]
        assert undo.batch == 1 and undo.hosts["r2"].status == "changed"
        assert _same(_running(ssh_lab, "r2"), before["r2"])  # back where it was
        assert "ntp server 10.255.255.1" in _running(ssh_lab, "r1")  # batch 1 kept its change
        restores = [
            c for c in await core.db.run(lambda db: list_changes(db)) if c.kind == "restore"
        ]
        assert [(c.device, c.status) for c in restores] == [("r2", "deployed")]
        assert restores[0].approved_by and restores[0].approved_by.startswith("rollback of change")


async def test_a_rejected_gate_ends_the_run_and_its_changes(ssh_lab, tmp_path: Path):
    snapshot = _snapshot(tmp_path, ssh_lab)
    text = "name: t\nsteps:\n  - plan: {features: [ntp]}\n  - approval: {message: go}\n  - deploy: {}\n"
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
        gate = record.gate
        assert gate is not None and len(gate.changes) == 2
        ended = await reject(core, record.id or 0, "test:boss")
        assert ended.status == "rejected" and "rejected by test:boss" in (
            ended.stopped_because or ""
        )
        for change in gate.changes:
            assert (await core.db.run(get_change, change["change"])).status == "rejected"
        with pytest.raises(ConflictError, match="not waiting"):
            await approve(core, record.id or 0, "test:boss", gate.sha256)


async def test_group_retries_rerun_only_the_failed_hosts_and_always_runs(ssh_lab, tmp_path: Path):
    await ssh_lab.stop("r2")  # refused at once, attempt after attempt
    snapshot = _snapshot(tmp_path, ssh_lab)
    text = """name: t
rollout: {max_failures: 1}
steps:
  - name: group
    retries: 2
    delay: 0.1
    block:
      - name: version
        show: {commands: [show version]}
      - name: hosts
        show: {commands: [show hosts], parse: false}
        register: hosts
      - name: hosts has output
        assert: {that: ["'Invalid' not in hosts.output"]}
    always:
      - name: cleanup
        notify: {message: "{{ host.name }} cleaned up"}
"""
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
    version = [s for s in record.steps if s.step == "version"]
    # attempt 1 runs both hosts; attempts 2 and 3 only r2, which fails every time
    assert [sorted(s.hosts) for s in version] == [["r1", "r2"], ["r2"], ["r2"]]
    assert record.failed_hosts == ["r2"] and record.status == "partial"
    assert set(_hosts(record, "cleanup")) == {"r1", "r2"}


async def test_a_hanging_step_is_cut_by_its_timeout_without_costing_other_hosts(
    ssh_lab, tmp_path: Path
):
    ssh_lab.sims["r2"].faults_path.write_text(json.dumps({"hang": ["^show hosts"]}))
    snapshot = _snapshot(tmp_path, ssh_lab)
    text = """name: t
rollout: {max_failures: 1}
steps:
  - name: hosts
    show: {commands: [show hosts]}
    timeout: 2
  - name: after
    notify: {message: "{{ host.name }} went on"}
"""
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        started = asyncio.get_running_loop().time()
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
        took = asyncio.get_running_loop().time() - started
    hosts = _hosts(record, "hosts")
    assert hosts["r1"].status == "ok" and hosts["r2"].status == "failed"
    assert hosts["r2"].error == "timed out after 2 s"
    assert set(_hosts(record, "after")) == {"r1"} and took < 8


async def test_cancel_stops_a_run_before_its_next_step(ssh_lab, tmp_path: Path):
    snapshot = _snapshot(tmp_path, ssh_lab)
    text = "name: t\nsteps:\n  - wait: {seconds: 30}\n  - show: {commands: [show version]}\n"
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        record = await begin(core, playbook, {}, actor="test")
        running = asyncio.create_task(finish_run(core, playbook, record))
        await asyncio.sleep(0.5)
        await core.db.run(request_cancel, record.id or 0, "test:boss")  # as another process would
        record = await asyncio.wait_for(running, 5)
    assert record.status == "cancelled"
    assert record.stopped_because == "cancelled by test:boss at batch 1, step 1 (wait)"
    assert [s.step for s in record.steps] == []  # the wait was cut; the show never ran


async def test_a_crashed_run_is_marked_where_it_stopped_and_resumes_without_redeploying(
    ssh_lab, tmp_path: Path
):
    snapshot = _snapshot(tmp_path, ssh_lab)
    text = """name: t
steps:
  - plan: {features: [ntp]}
  - approval: {message: go}
  - deploy: {}
  - name: after
    show: {commands: [show version]}
"""
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
        record = await _approve_and_go_on(core, record, "test:approver")
        assert record.status == "ok"
        deployed = {h: r.data["change"] for h, r in _hosts(record, "deploy").items()}
        # the same run as a crash in its deploy step would have left it: the cursor at the
        # deploy, both changes already deployed, the record still `running` by a dead process
        crashed = await core.db.run(load_run, record.id or 0)
        crashed.status, crashed.pid, crashed.finished_at = "running", 999_999_999, None
        crashed.cursor = Cursor(batch=0, step=2, active=["r1", "r2"], failed=[])
        crashed.steps = [s for s in crashed.steps if s.index < 2]
        for host, change in deployed.items():
            crashed.changes[host] = {"pending": {"change": change, "sha256": "x"}, "deployed": []}
        await core.db.run(save_run, crashed)
        assert await core.db.run(recover_orphans) == [record.id]
        stopped = await core.db.run(load_run, record.id or 0)
        assert stopped.status == "interrupted"
        assert "(pid 999999999) ended at batch 1, step 3 (deploy)" in (
            stopped.stopped_because or ""
        )
        sent_before = {n: _running(ssh_lab, n) for n in ("r1", "r2")}
        claimed = await resume(core, record.id or 0, "test:operator")
        resumed = await finish_run(core, Playbook.model_validate(claimed.definition), claimed)
        assert resumed.status == "ok"
        again = _hosts(resumed, "deploy")
        assert all(r.status == "changed" and r.data["resumed"] for r in again.values())
        assert {n: _running(ssh_lab, n) for n in ("r1", "r2")} == sent_before  # nothing pushed
        assert set(_hosts(resumed, "after")) == {"r1", "r2"}


async def test_until_runs_a_step_again_until_the_device_shows_what_it_waits_for(
    ssh_lab, tmp_path: Path
):
    snapshot = _snapshot(tmp_path, ssh_lab)
    text = """name: t
rollout: {max_failures: 1}
steps:
  - name: wait for Loopback5
    show: {commands: [show ip interface brief]}
    register: brief
    until: "brief.parsed | selectattr('interface', 'equalto', 'Loopback5') | list | length == 1"
    retries: 30
    delay: 0.3
"""
    async with tool_core(snapshot) as core:
        playbook = _playbook(tmp_path, text)
        running = asyncio.create_task(
            finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
        )
        await asyncio.sleep(3.0)  # a few attempts see nothing; then the interface comes up
        r1 = ssh_lab.sims["r1"].device
        r1.config = RunningConfig.parse(
            r1.config.render() + "interface Loopback5\n ip address 10.9.9.9 255.255.255.255\n"
        )
        record = await asyncio.wait_for(running, 60)
    hosts = _hosts(record, "wait for Loopback5")
    assert hosts["r1"].status == "ok" and 1 < hosts["r1"].attempts < 31
    assert hosts["r2"].status == "failed" and hosts["r2"].attempts == 31
    assert hosts["r2"].error == (
        "until not met: brief.parsed | selectattr('interface', 'equalto', 'Loopback5') | list"
        " | length == 1"
    )
