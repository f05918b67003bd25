"""Playbooks run against simulated IOS routers over real SSH: batches, failure limits, `when`,
retries of failed hosts only, loops, registered results, check mode, run records and events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genosd.app.core import tool_core
from genosd.app.playbook_engine import finish_run, split_batches
from genosd.app.playbooks import begin
from genosd.app.snapshot import Sources, load_snapshot
from genosd.errors import InvalidRequestError
from genosd.playbooks.loader import load_playbook
from tests.ssh_lab import write_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


def _playbook(tmp_path: Path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_playbook(path)


def _fresh(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    return directory


async def _run(tmp_path: Path, ports: dict[str, int], text: str, **options: Any):
    config, secrets = write_setup(tmp_path, ports, settings="ssh: {host_key_policy: accept-new}\n")
    snapshot = load_snapshot(Sources(config, None, (secrets,)))
    events: list[tuple[str, dict]] = []
    async with tool_core(snapshot) as core:
        core.events.listeners.append(lambda e: events.append((e.topic, e.data)))
        playbook = _playbook(tmp_path, text)
        record = await begin(core, playbook, {}, actor="test", **options)
        record = await finish_run(core, playbook, record)
        stored = await core.db.run(
            lambda db: db.execute(
                "SELECT status, data FROM playbook_runs WHERE id = ?", (record.id,)
            ).fetchone()
        )
    return record, events, stored


def _hosts(record, step: str) -> dict[str, Any]:
    return {name: r for s in record.steps if s.step == step for name, r in s.hosts.items()}


async def test_show_register_assert_notify_and_the_run_record(ssh_lab, tmp_path: Path):
    record, events, stored = await _run(
        tmp_path,
        ssh_lab.ports,
        "name: t\nvariables: {what: {type: str, default: ip interface brief}}\nsteps:\n"
        "  - name: version\n    show: {commands: [show version]}\n    register: version\n"
        "  - name: only r1\n    when: host.name == 'r1'\n"
        "    show: {commands: ['show {{ what }}']}\n    register: brief\n"
        "  - name: check\n    assert: {that: ['version.output | length > 0', 'not version.failed']}\n"
        "  - name: tell\n    notify: {message: '{{ host.name }} ran {{ run.playbook }}'}\n",
    )
    assert record.status == "ok" and record.failed_hosts == []
    assert {n: r.status for n, r in _hosts(record, "version").items()} == {"r1": "ok", "r2": "ok"}
    assert "Cisco IOS" in _hosts(record, "version")["r1"].data["output"]
    only = _hosts(record, "only r1")
    assert only["r2"].status == "skipped" and only["r1"].status == "ok"
    assert "Loopback0" in only["r1"].data["output"]
    assert any(row.get("interface") == "Loopback0" for row in only["r1"].data["parsed"])  # TextFSM
    alerts = [d for topic, d in events if topic == "alert"]
    assert sorted(a["message"] for a in alerts) == ["r1 ran t", "r2 ran t"]
    runs = [d for topic, d in events if topic == "run" and d["status"] != "step_finished"]
    assert [r["status"] for r in runs] == ["started", "batch_finished", "finished"]
    steps = [d for topic, d in events if topic == "run" and d["status"] == "step_finished"]
    assert [s["step"] for s in steps] == ["version", "only r1", "check", "tell"]
    assert steps[1]["hosts"] == {"ok": 1, "skipped": 1}
    assert stored[0] == "ok" and json.loads(stored[1])["steps"][0]["hosts"]["r1"]["status"] == "ok"


async def test_a_failing_batch_stops_the_run_and_retries_rerun_only_failed_hosts(
    ssh_lab, tmp_path: Path
):
    await ssh_lab.stop("r1")  # r1 is the first batch: its SSH is gone
    record, _, stored = await _run(
        tmp_path,
        ssh_lab.ports,
        "name: t\nrollout: {batches: [1], max_failures: 0}\nsteps:\n"
        "  - name: version\n    show: {commands: [show version]}\n    retries: 2\n    delay: 0.1\n",
    )
    assert record.batches == [["r1"], ["r2"]]
    assert record.status == "stopped" and record.failed_hosts == ["r1"]
    assert "batch 1: 1 of 1 hosts failed" in (record.stopped_because or "")
    (step,) = record.steps  # r2's batch never started
    assert step.hosts["r1"].status == "failed" and step.hosts["r1"].attempts == 3
    assert stored[0] == "stopped"


async def test_continue_on_failure_loops_and_limits_in_percent(ssh_lab, tmp_path: Path):
    await ssh_lab.stop("r2")
    record, _, _ = await _run(
        tmp_path,
        ssh_lab.ports,
        "name: t\nrollout: {max_failures: '50%'}\nsteps:\n"
        "  - name: interfaces\n    loop: [version, hosts]\n"
        "    show: {commands: ['show {{ item }}']}\n    register: seen\n"
        "    retries: 1\n    delay: 0.1\n    on_failure: continue\n"
        "  - name: after\n    assert: {that: ['seen.results | length == 2'], fail_msg: 'no loop'}\n",
    )
    looped = _hosts(record, "interfaces")
    assert looped["r1"].status == "ok" and len(looped["r1"].data["results"]) == 2
    assert looped["r2"].status == "failed" and looped["r2"].attempts == 2
    # r2 failed with `continue`, so it reached the next step; 1 of 2 failed is within 50%
    assert set(_hosts(record, "after")) == {"r1", "r2"}
    assert record.status == "partial" and record.failed_hosts == ["r2"]


async def test_variables_and_tasks_of_unloaded_plugins_are_refused_before_anything_runs(
    ssh_lab, tmp_path: Path
):
    from pydantic import BaseModel

    class Args(BaseModel):
        pass

    path = _fresh(tmp_path / "d") / "p.yaml"
    path.write_text("name: t\nsteps:\n  - drain_port: {}\n")
    playbook = load_playbook(path, {"drain_port": Args})  # loaded while its plugin was
    config, secrets = write_setup(tmp_path / "d", ssh_lab.ports)
    async with tool_core(load_snapshot(Sources(config, None, (secrets,)))) as core:
        with pytest.raises(InvalidRequestError, match="no active plugin provides: drain_port"):
            await begin(core, playbook, {}, actor="test")  # … and is not now
        runs = await core.db.run(
            lambda db: db.execute("SELECT count(*) FROM playbook_runs").fetchone()
        )
    assert runs == (0,)  # nothing recorded
    with pytest.raises(InvalidRequestError, match="variable 'ticket' is required"):
        await _run(
            _fresh(tmp_path / "v"),
            ssh_lab.ports,
            "name: t\nvariables: {ticket: {required: true}}\nsteps:\n  - poll: {}\n",
        )


def test_batches_from_counts_and_percentages():
    names = [f"d{n:02}" for n in range(25)]
    assert [len(b) for b in split_batches(names, [1, "10%"])] == [1, 3, 3, 3, 3, 3, 3, 3, 3]
    assert [len(b) for b in split_batches(names, ["100%"])] == [25]
    assert [len(b) for b in split_batches(names, [2, 5, "50%"])] == [2, 5, 13, 5]
    assert split_batches([], [1]) == []


async def test_the_cli_runs_a_playbook_with_variables_and_json(ssh_lab, tmp_path: Path):
    import asyncio
    import sys

    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    playbook = tmp_path / "pb.yaml"
    playbook.write_text(
        "name: cli-run\nvariables: {what: {default: hosts}}\nsteps:\n"
        "  - show: {commands: ['show {{ what }}']}\n    register: out\n"
        "  - assert: {that: ['out.output | length > 0']}\n"
    )
    cli = str(Path(sys.executable).parent / "genosd")
    env = {"GENOSD_SECRETS_DIR": str(secrets), "PATH": "/usr/bin:/bin"}

    async def genosd(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            cli, "playbook", "run", "--config", str(config), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip
        output, _ = await process.communicate()
        return process.returncode or 0, output.decode()

    code, output = await genosd(str(playbook), "--var", "what=version", "--json")
    assert code == 0, output
    record = json.loads(output)
    assert record["status"] == "ok" and record["variables"] == {"what": "version"}
    assert "Cisco IOS" in record["steps"][0]["hosts"]["r1"]["data"]["output"]
    code, output = await genosd(str(playbook), "--var", "colour=blue")
    assert code == 2 and "unknown variable 'colour'" in output
    code, output = await genosd("no-such-playbook")
    assert code == 2 and "no playbook 'no-such-playbook'" in output


async def test_the_cli_stops_at_a_gate_shows_the_diffs_and_approves(ssh_lab, tmp_path: Path):
    import asyncio
    import re
    import sys

    directory = _fresh(tmp_path / "playbooks")
    (directory / "gated.yaml").write_text(
        "name: gated\nsteps:\n  - plan: {features: [ntp]}\n"
        "  - approval: {message: 'ntp please'}\n  - deploy: {}\n"
    )
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings=f"playbooks_dir: {directory}\nssh: {{host_key_policy: accept-new}}\n",
    )
    cli = str(Path(sys.executable).parent / "genosd")
    env = {"GENOSD_SECRETS_DIR": str(secrets), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}

    async def genosd(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            cli, "playbook", *args, "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip
        output, _ = await process.communicate()
        return process.returncode or 0, output.decode()

    code, output = await genosd("list")
    assert code == 0 and "gated" in output, output
    code, output = await genosd("run", "gated")
    assert code == 3, output  # waiting at the gate
    assert "waiting for approval (operator): ntp please" in output
    assert "+ntp server 10.255.255.1" in output  # the diff the approver is asked about
    found = re.search(r"genosd playbook approve (\d+) --sha256 ([0-9a-f]{64})", output)
    assert found, output
    run_id, sha = found.groups()
    code, output = await genosd("show", run_id)
    assert code == 0 and "waiting_approval" in output and f"--sha256 {sha}" in output
    code, output = await genosd("approve", run_id, "--sha256", "0" * 64)
    assert code == 2 and "does not match" in output
    assert "ntp server 10.255.255.1" not in ssh_lab.sims["r1"].device.show_running_config()
    code, output = await genosd("approve", run_id, "--sha256", sha, "--json")
    assert code == 0, output
    assert json.loads(output)["status"] == "ok"
    assert "ntp server 10.255.255.1" in ssh_lab.sims["r2"].device.show_running_config()
    code, output = await genosd("runs", "gated", "--json")
    assert [r["status"] for r in json.loads(output)] == ["ok"]
    code, output = await genosd("cancel", run_id)
    assert code == 1 and "is ok, not running" in output


async def test_a_show_step_refuses_a_device_whose_host_key_changed(ssh_lab, tmp_path: Path):
    text = "name: t\nrollout: {max_failures: 1}\nsteps:\n  - show: {commands: [show version]}\n"
    first, _, _ = await _run(_fresh(tmp_path / "a"), ssh_lab.ports, text)
    assert first.status == "ok"  # both keys pinned now (accept-new)
    await ssh_lab.replace_host_key("r1")
    config, secrets = write_setup(
        _fresh(tmp_path / "b"), ssh_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    snapshot = load_snapshot(Sources(config, None, (secrets,)))
    async with tool_core(snapshot) as core:
        # the same pinned keys as the first run
        core.known_hosts.path.parent.mkdir(parents=True, exist_ok=True)
        core.known_hosts.path.write_text(
            (tmp_path / "a" / "state" / "ssh" / "known_hosts").read_text()
        )
        playbook = _playbook(tmp_path, text)
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))
    hosts = _hosts(record, "show")
    assert hosts["r2"].status == "ok"
    assert hosts["r1"].status == "failed" and "CHANGED" in (hosts["r1"].error or "")
    assert "Cisco IOS" not in str(hosts["r1"].data)
