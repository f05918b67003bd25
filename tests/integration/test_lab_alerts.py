"""Alert rules against the built-in lab: `genosd lab link` takes a simulated switch's interface
down and up again; the daemon polling the lab opens an incident and resolves it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from genosd.app.incidents import get_incident, list_incidents
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.cli import app
from genosd.lab.snmp import IF_NAME, IF_OPER

pytestmark = pytest.mark.slow  # the lab polled every 10 s, twice over

RULE = """- name: interface_down
  when: metric
  measurement: interface
  field: ifOperStatus
  not_equals: 1
  where: {ifAdminStatus: 1}
  tags: {ifName: "IFNAME"}
  key: [device, ifName]
  severity: major
  summary: "{device} {ifName} is down"
"""


def _an_up_interface(recording: Path) -> str:
    """An interface of the recording that is up (admin and oper) and has an ifName."""
    values = dict(line.split("|", 2)[0::2] for line in recording.read_text().splitlines())
    for oid, name in values.items():
        if oid.startswith(IF_NAME) and name:
            index = oid[len(IF_NAME) :]
            if (
                values.get(f"{IF_OPER}{index}") == "1"
                and values.get(f"1.3.6.1.2.1.2.2.1.7.{index}") == "1"
            ):
                return name
    raise AssertionError("no interface up in the recording")


async def _until(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_lab_interface_down_and_up_opens_and_resolves_an_incident(tmp_path: Path, lab):
    device = "lab-ios-sw1"
    recording = lab.root / "data" / f"{device}.snmprec"
    interface = _an_up_interface(recording)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.replace("IFNAME", interface))
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {lab.inventory_dir}\n"
        f"secrets_dir: {lab.secrets_dir}\nssh: {{backup_schedule: '', facts_interval: 0}}\n"
        f"alerts: {{interval: 1, builtin_rules: false, rules_files: [{rules}]}}\n"
    )
    lab_config = tmp_path / "lab.yaml"  # the CLI finds the lab by its state directory
    lab_config.write_text(f"state_dir: {lab.root.parent}\n")
    runtime = build_runtime(Sources(config))
    await runtime.start()
    db = runtime.core.db

    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, ["lab", "link", *args, "--config", str(lab_config)])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        await asyncio.sleep(12)  # a poll with the interface up: nothing fires
        assert await db.run(lambda c: list_incidents(c)) == []
        assert f"{device} {interface}" in await asyncio.to_thread(cli, device, interface, "down")
        (incident,) = await _until(
            "an incident", lambda: db.run(lambda c: list_incidents(c, status="open"))
        )
        assert incident["title"] == f"{device} {interface} is down"
        await asyncio.to_thread(cli, device, interface, "up")
        done = await _until(
            "it to resolve",
            lambda: db.run(
                lambda c: (
                    (found := get_incident(c, incident["id"]))["status"] == "resolved" and found
                )
            ),
        )
        assert [e["kind"] for e in done["timeline"]] == [
            "alert_fired",
            "alert_resolved",
            "resolved",
        ]
    finally:
        await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["lab", "link", device, interface, "up", "--config", str(lab_config)],
        )
        await runtime.stop()
