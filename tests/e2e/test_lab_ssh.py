"""`genosd lab up` serves the SSH topology too: facts, backups and plans against it, as processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from genosd.lab.topology import LINKS, NODES
from tests.e2e.test_config_cli import _genosd

SSH_DEVICES = {node.name for node in NODES}
CABLED = {(link.a, link.b) for link in LINKS} | {(link.b, link.a) for link in LINKS}


async def test_lab_ssh_devices_answer_facts_backup_and_plan(lab, tmp_path: Path):
    state = lab.status()
    assert state is not None and set(state.ssh_ports) == SSH_DEVICES
    config = tmp_path / "genosd.yaml"
    templates = Path(__file__).parents[2] / "templates"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {lab.inventory_dir}\n"
        f"configs: {{templates_dir: {templates}}}\n"
    )
    env = {**os.environ, "GENOSD_SECRETS_DIR": str(lab.secrets_dir), "COLUMNS": "200"}
    c = ("--config", str(config))

    facts = await _genosd("facts", *c, "--json", env=env)
    assert facts.returncode == 0, facts.stdout + facts.stderr
    results = {r["device"]: r for r in json.loads(facts.stdout)}
    assert set(results) == SSH_DEVICES  # the SNMP-only devices have no SSH
    assert results["lab-nx1"]["facts"]["version"][0]["platform"] == "C9300v"
    edges = {
        (name, row["neighbor_name"].split(".")[0])
        for name, r in results.items()
        for row in r["facts"]["lldp"]
    }
    assert edges == CABLED and len(edges) == 10

    backup = await _genosd("config", "backup", *c, "--json", env=env)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert all(r["ok"] for r in json.loads(backup.stdout))

    plan = await _genosd("config", "deploy", "lab-rj1", *c, "--json", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "set system ntp server 10.255.255.1" in json.loads(plan.stdout)["commands"]
    plan = await _genosd("config", "deploy", "lab-nx1", *c, "--json", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "ntp server 10.255.255.2" in json.loads(plan.stdout)["commands"]
