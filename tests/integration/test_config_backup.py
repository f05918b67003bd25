"""Config backup over real SSH into git: masking, volatile lines, history, pinned host keys."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from netmiko import ConnectHandler

from genosd.config.backup import backup
from genosd.config.history import ConfigHistory
from genosd.ssh.hostkeys import KnownHosts
from tests.ssh_lab import PASSWORD, SECRET, USER

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


def _configure(port: int, commands: list[str]) -> None:
    with ConnectHandler(
        device_type="cisco_ios",
        host="127.0.0.1",
        port=port,
        username=USER,
        password=PASSWORD,
        secret=SECRET,
        fast_cli=False,
    ) as conn:
        conn.send_config_set(commands)


async def test_backup_history_and_diffs(ssh_lab, tmp_path: Path):
    history = ConfigHistory(tmp_path / "configs")
    known = KnownHosts(tmp_path / "known_hosts")
    targets = [ssh_lab.target("r1"), ssh_lab.target("r2")]

    first = await asyncio.to_thread(backup, targets, history, known)
    assert [(r.device, r.ok, r.changed, r.host_key) for r in first] == [
        ("r1", True, True, "recorded"),
        ("r2", True, True, "recorded"),
    ]
    stored = history.current("r1")
    assert stored is not None and "hostname r1" in stored
    for secret in ("s3cret-community", "$9$nhEmQVczB7", "$9$oNguEA9um9vR"):
        assert secret not in stored
    assert "snmp-server community <masked> RO" in stored and first[0].masked == 3
    assert "Current configuration" not in stored and "Last configuration change" not in stored
    git_file = (tmp_path / "configs" / "devices" / "r1.cfg").read_text()
    assert git_file == stored

    # a no-op change moves IOS's "Last configuration change" and byte count only: no new version
    await asyncio.to_thread(_configure, ssh_lab.ports["r1"], ["hostname r1"])
    second = await asyncio.to_thread(backup, targets, history, known)
    assert [(r.ok, r.changed, r.host_key) for r in second] == [(True, False, "known")] * 2
    assert len(history.versions("r1")) == 1

    await asyncio.to_thread(
        _configure, ssh_lab.ports["r1"], ["interface GigabitEthernet0/0", "description core uplink"]
    )
    third = await asyncio.to_thread(backup, targets, history, known)
    assert third[0].changed and not third[1].changed
    versions = history.versions("r1")
    assert len(versions) == 2 and versions[0].message.startswith("r1: +1 -1 lines")
    diff = history.diff("r1", versions[1].id, versions[0].id)
    assert "- description to r2 Gi0/0\n" in diff and "+ description core uplink\n" in diff
    assert "description to r2 Gi0/0" in history.show("r1", versions[1].id[:10])


async def test_changed_unknown_and_unreachable_devices_fail_alone(ssh_lab, tmp_path: Path):
    history = ConfigHistory(tmp_path / "configs")
    known = KnownHosts(tmp_path / "known_hosts")
    targets = [ssh_lab.target("r1", timeout=5), ssh_lab.target("r2", timeout=5)]
    assert all(r.ok for r in await asyncio.to_thread(backup, targets, history, known))
    pinned = known.pinned("127.0.0.1", ssh_lab.ports["r1"])

    await ssh_lab.replace_host_key("r1")
    results = await asyncio.to_thread(backup, targets, history, known)
    assert not results[0].ok and "CHANGED" in (results[0].error or "")
    assert results[1].ok
    assert known.pinned("127.0.0.1", ssh_lab.ports["r1"]) == pinned  # never re-pinned silently

    strict = KnownHosts(tmp_path / "empty_known_hosts")
    refused = await asyncio.to_thread(backup, targets[1:], history, strict, policy="strict")
    assert not refused[0].ok and "not pinned" in (refused[0].error or "")

    await ssh_lab.stop("r2")
    down = await asyncio.to_thread(backup, targets[1:], history, known)
    assert not down[0].ok and "cannot read the SSH host key" in (down[0].error or "")


async def test_a_session_cut_mid_backup_is_a_failed_result_and_stores_nothing(ssh_lab, tmp_path):
    history = ConfigHistory(tmp_path / "configs")
    known = KnownHosts(tmp_path / "known_hosts")
    faults = ssh_lab.sims["r1"].faults_path
    faults.write_text(json.dumps({"drop": ["^show running-config"]}))
    results = await asyncio.to_thread(backup, [ssh_lab.target("r1", timeout=5)], history, known)
    assert not results[0].ok and results[0].error
    assert history.current("r1") is None and history.versions("r1") == []
