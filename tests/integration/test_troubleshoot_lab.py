"""Troubleshooting in the labs: a duplex mismatch between LLDP neighbours of the SSH lab, a path
across it, lookups run from a device (and refused when the argument is not what it claims), and
an interface of the SNMP lab flapped until the poll history shows it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genosd.app import discovery, facts, troubleshoot
from genosd.app.command_history import CommandQuery, search
from genosd.app.core import tool_core
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources, load_snapshot
from genosd.app.tool_catalog import registry
from genosd.auth.keys import Role
from genosd.cli import app
from genosd.errors import InvalidRequestError
from genosd.lab.snmp import set_link
from genosd.lab.topology import LINKS
from tests.integration.test_lab_alerts import _an_up_interface
from tests.ssh_lab import write_topology_setup

pytestmark = pytest.mark.slow  # lab workflows: CI runs them once, on the default Python


async def test_a_duplex_mismatch_a_path_and_lookups_over_the_ssh_lab(topology_lab, tmp_path: Path):
    r1 = topology_lab.sims["lab-r1"].device
    section, _ = r1.config_command(None, "interface GigabitEthernet0/3")  # to lab-nx1 Eth1/2
    r1.config_command(section, "duplex half")
    config, secrets = write_topology_setup(
        tmp_path,
        topology_lab.ports,
        settings="ssh: {backup_schedule: '', facts_interval: 0}\n"
        # discovery over the lab's LLDP graph (its management addresses are 10.255.0.x)
        "discovery: {seeds: [127.0.0.1], ranges: [127.0.0.0/30], ssh_port: 1, timeout: 0.5}\n",
    )
    async with tool_core(load_snapshot(Sources(config, None, (secrets,)))) as core:
        collected = await facts.collect(core, list(core.inventory.devices.values()), "alice")
        assert all(r.ok for r in collected), [(r.device, r.error) for r in collected]
        found = await troubleshoot.diagnose(core, "lab-r1", actor="alice")
        by_check = {(f["check"], f["subject"]): f for f in found["findings"]}
        mismatch = by_check[("duplex_mismatch", "lab-nx1 Ethernet1/2 ↔ lab-r1 GigabitEthernet0/3")]
        assert mismatch["severity"] == "critical"
        assert "lab-r1 is half" in mismatch["summary"] or "lab-nx1 is full" in mismatch["summary"]
        assert "late collisions on lab-r1" in mismatch["advice"]
        # the half-duplex end counts collisions: explained as duplex, not as a cable fault
        assert ("interface_errors", "GigabitEthernet0/3") in by_check
        assert "output errors" in by_check[("interface_errors", "GigabitEthernet0/3")]["summary"]
        assert found["findings"][0]["severity"] == "critical"
        assert not any(f["subject"].startswith("GigabitEthernet0/1") for f in found["findings"])
        assert "no SNMP poll history here" in " ".join(found["notes"])
        # the far end sees the same mismatch
        nx1 = await troubleshoot.diagnose(core, "lab-nx1")
        assert any(f["check"] == "duplex_mismatch" for f in nx1["findings"])
        clean = await troubleshoot.diagnose(core, "lab-rj1")
        assert clean["findings"] == []

        route = await troubleshoot.path(core, "lab-rj1", "lab-nx1")
        assert route["found"] and len(route["hops"]) == 2
        assert route["hops"][0]["from"] == "lab-rj1" and route["hops"][-1]["to"] == "lab-nx1"
        assert all(h["state"] == "up" for h in route["hops"])

        ping = await troubleshoot.lookup(core, "lab-r1", "ping", "10.0.0.18", "alice")
        assert ping["command"] == "ping 10.0.0.18 repeat 5"
        assert ping["summary"]["loss_percent"] == 0.0 and ping["summary"]["received"] == 5
        lost = await troubleshoot.lookup(core, "lab-r1", "ping", "192.0.2.1", "alice")
        assert lost["summary"]["loss_percent"] == 100.0
        trace = await troubleshoot.lookup(core, "lab-r1", "traceroute", "10.0.0.2", "alice")
        assert trace["summary"]["hops"] == [{"hop": 1, "addresses": ["10.0.0.2"]}]
        counters = await troubleshoot.lookup(core, "lab-r1", "counters", "Gi0/3", "alice")
        assert counters["parsed"][0]["duplex"] == "Half Duplex"
        for kind, target in (
            ("ping", "10.0.0.1\nconfigure terminal"),
            ("ping", "10.0.0.1 | redirect flash:x"),
            ("counters", "Gi0/1; reload"),
            ("mac", "not-a-mac"),
        ):
            with pytest.raises(InvalidRequestError):
                await troubleshoot.lookup(core, "lab-r1", kind, target, "mallory")

        tools = registry(core)
        denied = await tools.call(
            "device_lookup",
            {"device": "lab-r1", "kind": "ping", "target": "10.0.0.18"},
            actor="eve",
            role=Role.viewer,
        )
        assert not denied.ok
        via_tool = await tools.call(
            "diagnose_device", {"device": "lab-r1"}, actor="bob", role=Role.viewer, agent="chat"
        )
        assert via_tool.ok and "duplex_mismatch" in via_tool.content
        await core.flush_commands()
        sent = await core.db.run(search, CommandQuery(reason="troubleshoot", with_output=False))
        commands = {(r["device"], r["command"], r["actor"]) for r in sent}
        assert ("lab-r1", "ping 10.0.0.18 repeat 5", "alice") in commands
        assert not any(r["actor"] == "mallory" for r in sent)

        # discovery follows the SSH lab's LLDP graph from the stored facts: every neighbour's
        # address is outside the range, so each is listed and none is probed or proposed
        run = await discovery.run(core, "alice")
        assert run["proposals"] == [] and run["summary"]["probed"] == 1
        outside = {(o["name"].split(".")[0], o["seen_from"]) for o in run["summary"]["outside"]}
        cabled = {(link.b, link.a) for link in LINKS} | {(link.a, link.b) for link in LINKS}
        # Junos's `show lldp neighbors` has no management address: nothing there to follow
        assert outside == {(name, seen) for name, seen in cabled if seen != "lab-rj1"}
        assert all(o["address"].startswith("10.255.0.") for o in run["summary"]["outside"])

    # the CLI: the same diagnosis, exit 1 for a critical finding
    result = await asyncio.to_thread(
        lambda: CliRunner().invoke(
            app,
            ["diagnose", "lab-r1", "--json", "--config", str(config)],
            env={"GENOSD_SECRETS_DIR": str(secrets)},
        )
    )
    assert result.exit_code == 1, result.output  # a critical finding
    assert any(f["check"] == "duplex_mismatch" for f in json.loads(result.output)["findings"])


async def test_a_flapping_lab_interface_is_diagnosed_from_the_poll_history(tmp_path: Path, lab):
    device = "lab-ios-sw1"
    recording = lab.root / "data" / f"{device}.snmprec"
    interface = _an_up_interface(recording)
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {lab.inventory_dir}\n"
        f"secrets_dir: {lab.secrets_dir}\nssh: {{backup_schedule: '', facts_interval: 0}}\n"
    )
    runtime = build_runtime(Sources(config))
    await runtime.start()
    try:
        await runtime.poller.poll_now(device, "test")
        for up in (False, True, False, True):
            set_link(recording, interface, up)
            await asyncio.sleep(1.1)  # snmpsim notices a changed recording by its mtime
            poll = await runtime.poller.poll_now(device, "test")
            assert poll.ok, poll.error
        found = await troubleshoot.diagnose(runtime.core, device, minutes=10)
        flapping = [f for f in found["findings"] if f["check"] == "flapping"]
        assert [f["subject"] for f in flapping] == [interface]
        assert flapping[0]["evidence"]["changes"] >= 4
        assert "now up" in flapping[0]["summary"]
        stable = await troubleshoot.diagnose(runtime.core, "lab-junos-r1", minutes=10)
        assert not any(f["check"] == "flapping" for f in stable["findings"])
    finally:
        set_link(recording, interface, True)
        await runtime.stop()
