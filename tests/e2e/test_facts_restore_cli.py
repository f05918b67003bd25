"""`genosd facts` and `genosd config restore` as processes, against the SSH lab."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_config_cli import _genosd
from tests.e2e.test_lifecycle_cli import _env
from tests.ssh_lab import write_setup


async def test_facts_are_collected_stored_and_shown(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(tmp_path, ssh_lab.ports)
    env, c = _env(secrets), ("--config", str(config))
    never = await _genosd("facts", "r1", *c, "--stored", env=env)
    assert never.returncode == 1 and "no facts stored yet" in never.stdout

    collected = await _genosd("facts", *c, "--json", env=env)
    results = {r["device"]: r for r in json.loads(collected.stdout)}
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert set(results) == {"r1", "r2"}
    version = results["r1"]["facts"]["version"][0]
    assert version["hostname"] == "r1" and version["version"] == "15.6(2)T"
    assert results["r1"]["errors"]["arp"]  # the lab refuses `show ip arp`: a per-kind error

    table = await _genosd("facts", "r2", *c, "--stored", "--kind", "ip_interfaces", env=env)
    assert table.returncode == 0, table.stderr
    assert "r2: ip_interfaces" in table.stdout and "10.0.12.2" in table.stdout
    summary = await _genosd("facts", *c, "--filter", "name=r1", env=env)
    assert summary.returncode == 0 and "lldp (1)" in summary.stdout
    unknown = await _genosd("facts", "nope", *c, env=env)
    assert unknown.returncode == 2 and "nope" in unknown.stderr


async def test_restore_cli_plans_then_deploys_the_old_version(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(tmp_path, ssh_lab.ports)
    env, c = _env(secrets), ("--config", str(config))
    assert (await _genosd("config", "backup", *c, env=env)).returncode == 0
    ssh_lab.sims["r1"].device.config_command(None, "logging host 192.0.2.60")
    assert (await _genosd("config", "backup", *c, env=env)).returncode == 0
    versions = json.loads((await _genosd("config", "versions", "r1", *c, "--json", env=env)).stdout)
    old = versions[-1]["id"]

    dry = await _genosd("config", "restore", "r1", old[:8], *c, "--json", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["kind"] == "restore" and plan["commands"] == ["no logging host 192.0.2.60"]
    assert "logging host 192.0.2.60" in ssh_lab.sims["r1"].device.show_running_config()
    deployed = await _genosd(
        "config", "deploy", "r1", *c, "--approve", str(plan["change"]), "--json", env=env
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert json.loads(deployed.stdout)["status"] == "deployed"
    assert "logging host" not in ssh_lab.sims["r1"].device.show_running_config()

    missing = await _genosd("config", "restore", "r1", "0123456789", *c, env=env)
    assert missing.returncode == 2 and "0123456789" in missing.stderr
