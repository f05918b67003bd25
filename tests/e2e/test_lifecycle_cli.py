"""backup → edit template → render → validate → dry run → approve → deploy → verify, as processes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.e2e.test_config_cli import _genosd
from tests.ssh_lab import write_setup

REPO_TEMPLATES = Path(__file__).parents[2] / "templates"


def _env(secrets: Path) -> dict[str, str]:
    return {**os.environ, "GENOSD_SECRETS_DIR": str(secrets), "COLUMNS": "200"}


async def test_template_edit_reaches_the_device_through_an_approved_deploy(ssh_lab, tmp_path: Path):
    templates = tmp_path / "templates"
    shutil.copytree(REPO_TEMPLATES, templates)
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, templates=templates, settings="ssh: {host_key_policy: strict}\n"
    )
    env = _env(secrets)
    c = ("--config", str(config))
    assert (await _genosd("inventory", "trust", *c, env=env)).returncode == 0
    backed = await _genosd("config", "backup", *c, "--json", env=env)
    assert backed.returncode == 0, backed.stdout + backed.stderr

    # the edit: every device now sources NTP from its loopback
    ntp = templates / "ios" / "ntp.j2"
    ntp.write_text(ntp.read_text() + "ntp source Loopback0\n")
    rendered = await _genosd("config", "render", "r1", *c, env=env)
    assert rendered.returncode == 0, rendered.stderr
    assert "ntp source Loopback0" in rendered.stdout
    assert "s3cret-community" not in rendered.stdout and "<secret:" in rendered.stdout

    validated = await _genosd("config", "validate", *c, "--json", env=env)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    scores = {d["device"]: d["score"] for d in json.loads(validated.stdout)["devices"]}
    assert scores == {"r1": 100.0, "r2": 100.0}

    before = ssh_lab.sims["r1"].device.show_running_config()
    dry = await _genosd("config", "deploy", "r1", *c, "--json", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = json.loads(dry.stdout)
    assert "ntp source Loopback0" in plan["commands"] and plan["change"] is not None
    assert ssh_lab.sims["r1"].device.show_running_config() == before  # a dry run sends nothing

    deployed = await _genosd(
        "config", "deploy", "r1", *c, "--approve", str(plan["change"]), "--json", env=env
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    outcome = json.loads(deployed.stdout)
    assert outcome["status"] == "deployed" and outcome["sha256"] == plan["sha256"]
    assert outcome["backup"]["changed"] is True
    assert "ntp source Loopback0" in ssh_lab.sims["r1"].device.show_running_config()
    assert "ntp source Loopback0" not in ssh_lab.sims["r2"].device.show_running_config()

    reused = await _genosd("config", "deploy", "r1", *c, "--approve", str(plan["change"]), env=env)
    assert reused.returncode == 1 and "deployed, not approved" in reused.stderr
    versions = json.loads((await _genosd("config", "versions", "r1", *c, "--json", env=env)).stdout)
    assert len(versions) == 2 and versions[0]["author"].startswith("cli:")
    diff = await _genosd("config", "diff", "r1", versions[1]["id"][:8], *c, env=env)
    assert "+ntp source Loopback0" in diff.stdout
    changes = json.loads((await _genosd("config", "changes", *c, "--json", env=env)).stdout)
    assert [(ch["device"], ch["status"]) for ch in changes] == [("r1", "deployed")]


async def test_bad_templates_rules_and_platforms_are_clear_config_errors(ssh_lab, tmp_path: Path):
    templates = tmp_path / "templates"
    shutil.copytree(REPO_TEMPLATES, templates)
    config, secrets = write_setup(tmp_path, ssh_lab.ports, templates=templates)
    env = _env(secrets)
    c = ("--config", str(config))
    (templates / "ios" / "vlans.j2").write_text("{% for id in data.vlans %}\nvlan {{ id }\n")
    broken = await _genosd("config", "render", "r1", *c, env=env)
    assert broken.returncode == 78 and "ios/vlans.j2:2: syntax error" in broken.stderr
    shutil.copy(REPO_TEMPLATES / "ios" / "vlans.j2", templates / "ios" / "vlans.j2")

    (templates / "rules" / "site.yaml").write_text(
        "rules:\n  - id: ntp-source\n    must_contain: ntp source\n    severity: urgent\n"
    )
    bad_rules = await _genosd("config", "validate", *c, env=env)
    assert bad_rules.returncode == 78
    assert f"{templates / 'rules' / 'site.yaml'}:4: rules.0.severity" in bad_rules.stderr
    (templates / "rules" / "site.yaml").write_text(
        "rules:\n  - {id: ntp-source, must_contain: ntp source, severity: critical}\n"
    )
    blocked = await _genosd("config", "validate", *c, "--json", env=env)
    assert blocked.returncode == 1  # a critical finding blocks
    found = json.loads(blocked.stdout)["devices"][0]["findings"]
    assert [f["rule"] for f in found] == ["ntp-source"]
    planned = await _genosd("config", "deploy", "r1", *c, env=env)
    assert planned.returncode == 1 and "cannot be approved" in planned.stdout

    hosts = tmp_path / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("platform: ios", "platform: vyos", 1))
    unknown = await _genosd("config", "render", "r1", *c, env=env)
    assert unknown.returncode == 78 and "vyos" in unknown.stderr
