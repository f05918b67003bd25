"""The playbooks shipped in playbooks/, run against the SSH lab as a team would run them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genosd.app.core import AppCore, tool_core
from genosd.app.playbook_engine import finish_run
from genosd.app.playbook_gates import approve
from genosd.app.playbook_records import RunRecord
from genosd.app.playbooks import begin
from genosd.app.snapshot import Sources, load_snapshot
from genosd.lab.ios_config import RunningConfig
from genosd.playbooks.loader import load_playbook
from genosd.playbooks.model import Playbook
from tests.ssh_lab import write_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

SHIPPED = Path(__file__).parent.parent.parent / "playbooks"


def _snapshot(tmp_path: Path, ssh_lab: Any, vlans: dict[int, str] | None = None) -> Any:
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    if vlans:  # the change as the team commits it to the inventory before the rollout
        with (tmp_path / "inventory" / "defaults.yaml").open("a") as defaults:
            defaults.write(f"  vlans: {vlans}\n")
        hosts = tmp_path / "inventory" / "hosts.yaml"
        hosts.write_text(
            hosts.read_text().replace("{shutdown: true}", "{shutdown: true, description: spare}")
        )
    return load_snapshot(Sources(config, None, (secrets,)))


def _hosts(record: RunRecord, step: str) -> dict[str, Any]:
    return {n: r for s in record.steps if s.step == step for n, r in s.hosts.items()}


async def _approved(core: AppCore, record: RunRecord) -> RunRecord:
    assert record.status == "waiting_approval" and record.gate is not None, record.stopped_because
    claimed = await approve(core, record.id or 0, "test:approver", record.gate.sha256)
    return await finish_run(core, Playbook.model_validate(claimed.definition), claimed)


async def test_nightly_backup_reports_compliance_and_unreachable_devices(ssh_lab, tmp_path):
    await ssh_lab.stop("r2")
    alerts: list[dict[str, Any]] = []
    async with tool_core(_snapshot(tmp_path, ssh_lab)) as core:
        core.events.listeners.append(
            lambda e: alerts.append(e.data) if e.topic == "alert" else None
        )
        playbook = load_playbook(SHIPPED / "nightly-backup-compliance.yaml")
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
        versions = core.history.versions("r1")
    saved = _hosts(record, "back up the running config")
    assert saved["r1"].status == "changed" and saved["r2"].status == "failed"
    assert versions and versions[0].id == saved["r1"].data["version"]
    compliance = saved["r1"].data["compliance"]
    assert compliance["score"] < 100 and compliance["failing"]  # the lab lacks what rules ask
    messages = {a["device"]: a["message"] for a in alerts if a.get("kind") == "playbook_notify"}
    assert messages["r1"].startswith(f"r1: compliance {compliance['score']}%, failing ")
    assert messages["r2"].startswith("r2: backup failed: ")
    assert record.status == "partial" and record.failed_hosts == ["r2"]


async def test_vlan_rollout_canary_then_batches_each_approved(ssh_lab, tmp_path: Path):
    async with tool_core(_snapshot(tmp_path, ssh_lab, {120: "guests", 130: "voice"})) as core:
        shipped = load_playbook(SHIPPED / "vlan-rollout.yaml")
        # the lab's routers have no `role: access`; no pause between batches in a test
        playbook = shipped.model_copy(
            update={"targets": {}, "rollout": shipped.rollout.model_copy(update={"pause": 0})}
        )
        record = await begin(core, playbook, {}, actor="test", variables={"change_ticket": "CHG-1"})
        assert record.batches == [["r1"], ["r2"]]
        record = await finish_run(core, playbook, record)
        assert record.gate is not None and record.gate.message == "Deploy CHG-1 to this batch?"
        diff = _hosts(record, "plan the change")["r1"].data["diff"]
        assert "+vlan 120" in diff and "+  name guests" in diff and "+  description spare" in diff
        assert "vlan 120" not in ssh_lab.sims["r2"].device.show_running_config()
        record = await _approved(core, record)  # the canary
        assert "vlan 120" in ssh_lab.sims["r1"].device.show_running_config()
        assert "vlan 120" not in ssh_lab.sims["r2"].device.show_running_config()
        record = await _approved(core, record)  # the next 10%
        assert record.status == "ok", record.stopped_because
        planned = _hosts(record, "plan the change")
        assert all(r.data["change"] for r in planned.values())
        assert all(r.status == "changed" for r in _hosts(record, "deploy").values())
        assert all(r.status == "ok" for r in _hosts(record, "no interface went down").values())
        for name in ("r1", "r2"):
            running = ssh_lab.sims[name].device.show_running_config()
            assert "vlan 130\n name voice" in running and " description spare" in running
            assert "ntp server 10.255.255.1" not in running  # other features: not this rollout


async def test_pre_post_state_finds_what_a_change_broke(ssh_lab, tmp_path: Path):
    async with tool_core(_snapshot(tmp_path, ssh_lab)) as core:
        playbook = load_playbook(SHIPPED / "pre-post-state.yaml")
        record = await begin(core, playbook, {}, actor="test", variables={"change_ticket": "CHG-2"})
        record = await finish_run(core, playbook, record)
        assert record.status == "waiting_approval" and record.gate is not None
        assert record.gate.changes == [] and "CHG-2" in record.gate.message
        # the maintenance: r2 loses its link to r1 (the interface shut, the neighbour gone)
        r2 = ssh_lab.sims["r2"].device
        config = r2.config.render()
        r2.config = RunningConfig.parse(
            config.replace(
                "interface GigabitEthernet0/0\n", "interface GigabitEthernet0/0\n shutdown\n", 1
            )
        )
        r2.neighbors.clear()
        record = await _approved(core, record)
    compared = _hosts(record, "compare")
    assert compared["r1"].status == "ok"
    assert compared["r2"].status == "failed" and "r2 lost" in (compared["r2"].error or "")
    assert len(compared["r2"].data["false"]) == 3  # the interface, the neighbour, the route
    assert record.status == "partial"
