"""The playbook format: shipped playbooks load; malformed ones are refused with file, line and why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from genosd.errors import EX_CONFIG
from genosd.playbooks.loader import PlaybookError, load_playbook, load_playbooks, schema

SHIPPED = Path(__file__).parent.parent.parent / "playbooks"
HEAD = "name: t\ntargets: {group: core}\n"


def test_every_shipped_playbook_loads_and_matches_the_schema():
    playbooks = load_playbooks([SHIPPED])
    assert {"nightly-backup-compliance", "vlan-rollout"} <= set(playbooks)
    validator = jsonschema.Draft202012Validator(schema())
    for path in SHIPPED.glob("*.yaml"):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path, errors[0].message if errors else None)


def test_the_schema_refuses_what_the_loader_refuses():
    validator = jsonschema.Draft202012Validator(schema())
    assert list(validator.iter_errors({"name": "t", "steps": [{"reboot": {}}]}))
    assert list(validator.iter_errors({"name": "t", "steps": [{"show": {"commands": 1}}]}))
    assert not list(validator.iter_errors({"name": "t", "steps": [{"backup": {}}]}))


@pytest.mark.parametrize(
    ("steps", "line", "problem"),
    [
        ("  - reboot: {}\n", 4, "unknown action 'reboot'"),
        ("  - backup: {}\n    show: {commands: [show version]}\n", 4, "exactly one action"),
        ("  - name: x\n    when: host.platform ==\n    backup: {}\n", 5, "unexpected 'end of"),
        ("  - when: '{{ host.name }}'\n    backup: {}\n", 4, "without {{ }}"),
        ("  - when: vlan == 10\n    backup: {}\n", 4, "unknown name(s) vlan"),
        (
            "  - assert: {that: [result.ok]}\n  - show: {commands: [show version]}\n"
            "    register: result\n",
            4,
            "unknown name(s) result",  # used before the step that registers it
        ),
        ("  - show: {commands: [configure terminal]}\n", 4, "not a read-only command"),
        ("  - notify: {message: 'down: {{ host.name'}\n", 4, "unexpected end"),
        ("  - wait: {seconds: 5, until: 'x'}\n", 4, "Extra inputs are not permitted"),
        ("  - until: 'true'\n    retries: 3\n    backup: {}\n", 4, "`until` needs `register`"),
        (
            "  - until: 'saved.lines > 0'\n    register: saved\n    backup: {}\n",
            4,
            "`until` needs `retries`",
        ),
        (
            "  - until: 'other.lines > 0'\n    register: saved\n    retries: 2\n    backup: {}\n",
            4,
            "unknown name(s) other",
        ),
        ("  - block: []\n", 4, "a block needs at least one step"),
        ("  - backup: {}\n    register: a\n  - backup: {}\n    register: a\n", 7, "already"),
        ("  - block:\n      - reboot: {}\n", 5, "unknown action 'reboot'"),
        ("  - plan: {}\n  - deploy: {}\n", 5, "deploy needs a plan step and then an approval"),
        ("  - approval: {message: go}\n  - deploy: {}\n", 5, "deploy needs a plan step"),
        (
            "  - plan: {}\n  - block:\n      - approval: {message: go}\n",
            5,
            "an approval gate is a top-level step",
        ),
        ("  - approval: {message: go}\n    retries: 2\n", 4, "takes no loop or retries"),
        ("  - timeout: 5\n    block:\n      - backup: {}\n", 4, "no timeout of its own"),
        ("  - plan: {features: []}\n", 4, "at least 1 item"),
    ],
)
def test_malformed_steps_name_file_line_and_problem(tmp_path: Path, steps, line, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "steps:\n" + steps)
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    problems = "\n".join(caught.value.problems)
    assert f"{path}:{line}" in problems and problem in problems, problems


@pytest.mark.parametrize(
    ("header", "line", "problem"),
    [
        ("schedule: {cron: '61 * * * *'}\n", 2, "not a cron expression"),
        ("schedule: {cron: '0 2 * * *', timezone: Mars/Olympus}\n", 2, "unknown time zone"),
        ("rollout: {batches: [0]}\n", 2, "at least one host"),
        ("rollout: {batches: ['150%']}\n", 2, "a percentage"),
        ("targets: {colour: blue}\n", 2, "unknown target key"),
        ("variables: {host: {type: str}}\n", 2, "not a usable variable name"),
    ],
)
def test_malformed_headers_name_file_line_and_problem(tmp_path: Path, header, line, problem):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\n" + header + "steps:\n  - backup: {}\n")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(path)
    problems = "\n".join(caught.value.problems)
    assert f"{path}:{line}" in problems and problem in problems, problems


def test_loop_item_variables_and_plugin_tasks(tmp_path: Path):
    class SyncArgs(BaseModel):
        site: str

    path = tmp_path / "ok.yaml"
    path.write_text(
        HEAD + "variables: {vlan: {type: int, default: 10}}\nsteps:\n"
        "  - show: {commands: ['show vlan id {{ vlan }}', 'show interfaces {{ item }}']}\n"
        "    loop: [Gi0/1, Gi0/2]\n    when: item != 'Gi0/9' and vlan > 1\n    register: vlans\n"
        "  - netbox_sync: {site: '{{ host.site }}'}\n    when: vlans.failed == false\n"
    )
    with pytest.raises(PlaybookError, match="unknown action 'netbox_sync'"):
        load_playbook(path)
    playbook = load_playbook(path, {"netbox_sync": SyncArgs})
    assert [s.action for s in playbook.steps] == ["show", "netbox_sync"]
    path.write_text(HEAD + "steps:\n  - netbox_sync: {region: x}\n")
    with pytest.raises(PlaybookError, match=r"ok\.yaml:4: .*site"):
        load_playbook(path, {"netbox_sync": SyncArgs})


def test_the_cli_checks_files_with_exit_codes_and_json(tmp_path: Path):
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "steps:\n  - reboot: {}\n")
    cli = str(Path(sys.executable).parent / "genosd")
    genosd = [cli, "playbook", "check", "--config", str(config)]
    good = subprocess.run(
        [*genosd, str(SHIPPED / "vlan-rollout.yaml")], capture_output=True, text=True
    )
    assert good.returncode == 0, good.stderr
    assert "ok (vlan-rollout, 6 steps)" in good.stdout
    both = subprocess.run(
        [*genosd, "--json", str(SHIPPED / "vlan-rollout.yaml"), str(bad)],
        capture_output=True,
        text=True,
    )
    assert both.returncode == EX_CONFIG
    results = json.loads(both.stdout)
    assert [r["ok"] for r in results] == [True, False]
    assert "unknown action 'reboot'" in results[1]["problems"][0]
    exported = subprocess.run([cli, "playbook", "schema"], capture_output=True, text=True)
    assert json.loads(exported.stdout)["title"] == "Playbook"
