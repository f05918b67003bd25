"""The four-platform SSH lab (IOS, EOS, Junos, NX-OS): clients, facts, the LLDP graph, and deploys.

Junos deploys go through `commit confirmed` and EOS deploys through a configuration session
committed with `commit timer`: genosd confirms only after verifying, and the device reverts by
itself when nobody confirms (the lab's minute is 0.5 s here).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from napalm import get_network_driver
from netmiko import ConnectHandler
from scrapli.driver.core import AsyncEOSDriver, AsyncJunosDriver, AsyncNXOSDriver

from genosd.app.lifecycle import Lifecycle
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.collectors.facts import collect_facts
from genosd.config.changes import approve_change, create_change, start_deploy
from genosd.config.commit import ConfigSession
from genosd.config.secrets import generic
from genosd.errors import DeviceError
from genosd.lab.eos_device import EosDevice
from genosd.lab.junos_device import JunosDevice
from genosd.lab.nxos_device import NxosDevice
from genosd.lab.topology import LINKS
from genosd.platforms import platform
from genosd.ssh.hostkeys import KnownHosts
from genosd.statedb import connect, state_db_path
from tests.ssh_lab import PASSWORD, SECRET, USER, write_topology_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


async def test_facts_of_every_platform_form_the_lldp_graph(topology_lab, tmp_path: Path):
    targets = [topology_lab.target(name) for name in sorted(topology_lab.sims)]
    known = KnownHosts(tmp_path / "known_hosts")
    results = await asyncio.to_thread(collect_facts, targets, known)
    by_device = {r.device: r for r in results}
    assert all(r.ok for r in results), [(r.device, r.error, r.errors) for r in results]
    versions = {name: r.facts["version"][0] for name, r in by_device.items()}
    assert versions["lab-r1"]["version"] == "15.6(2)T"
    assert versions["lab-sw1"]["image"] == "4.31.6M"
    assert versions["lab-rj1"]["junos_version"] == "21.4R3.15"
    assert (
        versions["lab-nx1"]["platform"] == "C9300v" and versions["lab-nx1"]["hostname"] == "lab-nx1"
    )
    edges = {
        (name, row["neighbor_name"].split(".")[0])
        for name, r in by_device.items()
        for row in r.facts["lldp"]
    }
    cabled = {(link.a, link.b) for link in LINKS} | {(link.b, link.a) for link in LINKS}
    assert edges == cabled
    addresses = {row["local"] for row in by_device["lab-rj1"].facts["interfaces"] if row["local"]}
    assert addresses == {"10.255.0.3", "10.0.0.6", "10.0.0.10"}
    eos = {row["interface"]: row for row in by_device["lab-sw1"].facts["ip_interfaces"]}
    assert eos["Ethernet1"]["ip_address"] == "10.0.0.2/30"
    nxos = {row["interface"]: row for row in by_device["lab-nx1"].facts["interfaces"]}
    assert nxos["Ethernet1/1"]["ip_address"] == "10.0.0.14"
    assert nxos["Ethernet1/1"]["description"] == "to lab-sw1 Ethernet3"
    cdp = {row["neighbor_name"] for row in by_device["lab-nx1"].facts["cdp"]}
    assert cdp == {"lab-r1"}  # only the Cisco neighbour speaks CDP
    # the simulator has no ARP table: NX-OS's refusal is a per-kind error, not an empty table
    assert "refused 'show ip arp'" in by_device["lab-nx1"].errors["arp"]


async def test_netmiko_scrapli_and_napalm_on_nxos(topology_lab):
    port, sim = topology_lab.ports["lab-nx1"], topology_lab.sims["lab-nx1"]
    assert isinstance(sim.device, NxosDevice)
    auth = {
        "auth_username": USER,
        "auth_password": PASSWORD,
        "auth_strict_key": False,
        "transport": "asyncssh",
        "host": "127.0.0.1",
        "port": port,
    }
    async with AsyncNXOSDriver(**auth) as nxos:
        assert "NXOS: version 10.3(3)" in (await nxos.send_command("show version")).result
        result = await nxos.send_configs(["interface Ethernet1/2", "shutdown"])
        assert not result.failed
        refused = await nxos.send_configs(["feature bogus-thing"])
        assert refused.failed  # scrapli knows NX-OS's "% Invalid command"
    assert "  shutdown" in sim.device.show_running_config()

    def netmiko_and_napalm() -> dict:
        with ConnectHandler(
            device_type="cisco_nxos", host="127.0.0.1", username=USER, password=PASSWORD, port=port
        ) as conn:
            conn.send_config_set(["interface Ethernet1/2", "no shutdown"])
            saved = conn.save_config()
        driver = get_network_driver("nxos_ssh")(
            "127.0.0.1", USER, PASSWORD, optional_args={"port": port}
        )
        driver.open()
        try:
            return {
                "saved": saved,
                "facts": driver.get_facts(),
                "interfaces": driver.get_interfaces(),
                "lldp": driver.get_lldp_neighbors(),
            }
        finally:
            driver.close()

    got = await asyncio.to_thread(netmiko_and_napalm)
    assert "Copy complete" in got["saved"] and sim.device.startup
    facts = got["facts"]
    assert (facts["hostname"], facts["fqdn"]) == ("lab-nx1", "lab-nx1.lab.genosd.invalid")
    assert facts["os_version"] == "10.3(3)" and facts["serial_number"] == sim.device.serial
    assert facts["model"] == "Nexus9000 C9300v Chassis"
    assert "Ethernet1/1" in facts["interface_list"]
    assert got["interfaces"]["Ethernet1/2"]["is_enabled"]  # netmiko's `no shutdown` took
    assert not got["interfaces"]["Loopback0"]["mac_address"]  # NAPALM canonical names
    assert got["lldp"]["Ethernet1/1"][0]["hostname"] == "lab-sw1.lab.genosd.invalid"


async def test_scrapli_and_napalm_over_ssh_on_eos_and_junos(topology_lab):
    eos_port, junos_port = topology_lab.ports["lab-sw1"], topology_lab.ports["lab-rj1"]
    auth = {
        "auth_username": USER,
        "auth_password": PASSWORD,
        "auth_strict_key": False,
        "transport": "asyncssh",
        "host": "127.0.0.1",
    }
    async with AsyncEOSDriver(port=eos_port, auth_secondary=SECRET, **auth) as eos:
        assert "Software image version: 4.31.6M" in (await eos.send_command("show version")).result
        assert not (
            await eos.send_configs(["interface Ethernet2", "description via scrapli"])
        ).failed
    assert "description via scrapli" in topology_lab.sims["lab-sw1"].device.show_running_config()
    async with AsyncJunosDriver(port=junos_port, **auth) as junos:
        assert "Junos: 21.4R3.15" in (await junos.send_command("show version")).result
        result = await junos.send_configs(["set system location building 7", "commit"])
        assert not result.failed and "commit complete" in result.result
    device = topology_lab.sims["lab-rj1"].device
    assert "set system location building 7" in device.active

    def napalm_eos() -> dict:
        driver = get_network_driver("eos")(
            "127.0.0.1",
            USER,
            PASSWORD,
            optional_args={"port": eos_port, "transport": "ssh", "secret": SECRET},
        )
        driver.open()
        try:
            return {
                "facts": driver.get_facts(),
                "interfaces": driver.get_interfaces(),
                "lldp": driver.get_lldp_neighbors(),
            }
        finally:
            driver.close()

    got = await asyncio.to_thread(napalm_eos)
    assert got["facts"]["hostname"] == "lab-sw1" and got["facts"]["vendor"] == "Arista"
    assert got["interfaces"]["Ethernet1"]["is_up"]
    assert got["lldp"]["Ethernet2"][0]["hostname"].startswith("lab-rj1")


async def test_junos_commit_confirmed_reverts_when_nobody_confirms(topology_lab):
    device = topology_lab.sims["lab-rj1"].device
    assert isinstance(device, JunosDevice)
    before = list(device.active)

    def unconfirmed() -> str:
        with ConnectHandler(
            device_type="juniper_junos",
            host="127.0.0.1",
            username=USER,
            password=PASSWORD,
            port=topology_lab.ports["lab-rj1"],
        ) as session:
            conn: Any = session  # a JuniperSSH; ConnectHandler is typed as the base class
            conn.send_config_set(["delete interfaces ge-0/0/0"], exit_config_mode=False)
            output = conn.commit(confirm=True, confirm_delay=1)
            conn.exit_config_mode()
            return output

    assert "rolled back in 1 minutes" in await asyncio.to_thread(unconfirmed)
    assert not [line for line in device.active if "ge-0/0/0" in line]  # applied…
    await asyncio.sleep(0.8)  # …until the lab's minute (0.5 s) passes without a confirm
    device.tick()
    assert device.active == before and device.commits[-1] == "revert"


def _lifecycle(tmp_path: Path, ports: dict[str, int], configs: str = "") -> Lifecycle:
    config, secrets = write_topology_setup(tmp_path, ports, configs=configs)
    state = build_runtime(Sources(config, None, (secrets,)))
    return state.core.lifecycle


async def _deploy(lifecycle: Lifecycle, name: str):
    db = connect(state_db_path(lifecycle.settings.state_dir))
    [plan] = await asyncio.to_thread(lifecycle.plan, [lifecycle.device(name)])
    assert plan.error is None and plan.report is not None and plan.sha256, plan.error
    change = create_change(
        db,
        device=name,
        kind="render",
        sha256=plan.sha256,
        commands=plan.commands,
        rollback=plan.rollback,
        diff=plan.diff,
        findings=plan.report.findings,
        actor="test:planner",
        ttl=600,
    )
    approve_change(db, change.id, sha256=plan.sha256, actor="test:approver")
    outcome, _ = await asyncio.to_thread(lifecycle.deploy, start_deploy(db, change.id), "test")
    return plan, outcome


async def test_junos_and_eos_deploys_converge_junos_through_a_confirmed_commit(
    topology_lab, tmp_path: Path
):
    lifecycle = _lifecycle(tmp_path, topology_lab.ports)
    junos = topology_lab.sims["lab-rj1"].device
    assert isinstance(junos, JunosDevice)
    plan, outcome = await _deploy(lifecycle, "lab-rj1")
    assert "set system ntp server 10.255.255.1" in plan.commands
    assert "set system services ssh root-login deny" in plan.commands
    assert outcome.status == "deployed", outcome.reason
    assert junos.commits == ["commit confirmed 5", "commit"]  # confirmed only once verified
    assert junos.confirm_deadline is None
    assert 'set snmp contact "noc@lab.genosd.invalid"' in junos.active
    [again] = await asyncio.to_thread(lifecycle.plan, [lifecycle.device("lab-rj1")])
    assert again.commands == [] and again.error is None

    eos = topology_lab.sims["lab-sw1"].device
    assert isinstance(eos, EosDevice)
    plan, outcome = await _deploy(lifecycle, "lab-sw1")
    assert "management telnet" in plan.commands and outcome.status == "deployed", outcome.reason
    assert eos.commits == ["commit timer 00:05:00", "confirm"]  # confirmed only once verified
    assert not eos.pending and not eos.sessions
    running = eos.show_running_config()
    assert "ntp server 10.255.255.2" in running and "   idle-timeout 10" in running
    assert "ntp server 10.255.255.2" in eos.startup  # saved after the confirm


def _eos_lines(eos: EosDevice) -> list[str]:
    return eos.config.render(indent=3).splitlines()


async def test_an_eos_session_keeps_a_refused_push_off_the_device(topology_lab, tmp_path: Path):
    eos = topology_lab.sims["lab-sw1"].device
    assert isinstance(eos, EosDevice)
    before = _eos_lines(eos)
    (topology_lab.directory / "lab-sw1.faults.json").write_text('{"reject": ["^ntp server"]}')
    _, outcome = await _deploy(_lifecycle(tmp_path, topology_lab.ports), "lab-sw1")
    assert outcome.status == "rolled_back" and outcome.rollback == "verified", outcome.reason
    assert "Invalid input" in (outcome.reason or "")
    # the session was aborted: no line of it ever reached the running config
    assert eos.commits == [] and not eos.sessions and _eos_lines(eos) == before


async def test_a_failed_eos_post_check_aborts_the_timed_commit(topology_lab, tmp_path: Path):
    check = (
        ", post_checks: [{name: ntp-synced, command: show version, "
        "must_match: 'NTP synchronized', platforms: [eos]}]"
    )
    eos = topology_lab.sims["lab-sw1"].device
    assert isinstance(eos, EosDevice)
    before = _eos_lines(eos)
    _, outcome = await _deploy(_lifecycle(tmp_path, topology_lab.ports, configs=check), "lab-sw1")
    assert outcome.status == "rolled_back" and outcome.rollback == "verified", outcome.reason
    assert eos.commits == ["commit timer 00:05:00", "abort"] and not eos.pending
    assert _eos_lines(eos) == before


async def test_nxos_deploy_converges_and_a_refused_command_rolls_back(topology_lab, tmp_path):
    nxos = topology_lab.sims["lab-nx1"].device
    assert isinstance(nxos, NxosDevice)
    nxos.config_command(None, "feature telnet")  # drift the aaa feature owns: removed by the plan
    nxos.config_command(None, "snmp-server community legacy ro")  # stored as a group on NX-OS
    before = sorted(nxos.config.render(indent=2).splitlines())
    (topology_lab.directory / "lab-nx1.faults.json").write_text('{"reject": ["^ntp server"]}')
    lifecycle = _lifecycle(tmp_path, topology_lab.ports)
    plan, outcome = await _deploy(lifecycle, "lab-nx1")
    assert {
        "no feature telnet",
        "ntp server 10.255.255.1",
        "line vty",
        "  exec-timeout 10",
        "no snmp-server community <masked> group network-operator",
    } <= {generic(c) for c in plan.commands}
    assert outcome.status == "rolled_back" and outcome.rollback == "verified", outcome.reason
    assert "Invalid command" in (outcome.reason or "")
    assert sorted(nxos.config.render(indent=2).splitlines()) == before  # the simulator appends

    (topology_lab.directory / "lab-nx1.faults.json").unlink()
    plan, outcome = await _deploy(lifecycle, "lab-nx1")
    assert outcome.status == "deployed", outcome.reason
    running = nxos.show_running_config()
    assert "feature telnet" not in running and "ntp server 10.255.255.2" in running
    assert "snmp-server community legacy" not in running and "  no shutdown" in running
    assert "ntp server 10.255.255.2" in nxos.startup  # saved once verified
    [again] = await asyncio.to_thread(lifecycle.plan, [lifecycle.device("lab-nx1")])
    assert again.commands == [] and again.error is None


async def test_a_failed_junos_post_check_is_rolled_back_and_committed(topology_lab, tmp_path):
    check = (
        ", post_checks: [{name: ntp-synced, command: show version, "
        "must_match: 'NTP synchronized', platforms: [junos]}]"
    )
    lifecycle = _lifecycle(tmp_path, topology_lab.ports, configs=check)
    junos = topology_lab.sims["lab-rj1"].device
    assert isinstance(junos, JunosDevice)
    before = list(junos.active)
    started = time.monotonic()
    _, outcome = await _deploy(lifecycle, "lab-rj1")
    assert outcome.status == "rolled_back" and outcome.rollback == "verified", outcome.reason
    assert "ntp-synced" in (outcome.reason or "")
    assert sorted(junos.active) == sorted(before) and junos.candidate is None
    assert junos.commits == ["commit confirmed 5", "commit"]  # the rollback is a plain commit
    assert junos.confirm_deadline is None
    assert time.monotonic() - started < 30


def _short_timeout_lifecycle(tmp_path: Path, ports: dict[str, int]) -> Lifecycle:
    lifecycle = _lifecycle(tmp_path, ports)
    defaults = lifecycle.settings.inventory_dir / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("timeout: 10", "timeout: 3"))
    state = build_runtime(
        Sources(lifecycle.settings.state_dir.parent / "genosd.yaml", None, (tmp_path / "secrets",))
    )
    return state.core.lifecycle


# every command that would confirm or undo the push cuts the session: genosd can do neither
LOST = {
    "lab-rj1": ('{"drop": ["^commit$"]}', "commit confirmed", ["commit confirmed 5"]),
    "lab-sw1": (
        '{"drop": ["^configure session \\\\S+ (commit|abort)$"]}',
        "commit timer",
        ["commit timer 00:05:00"],
    ),
}


@pytest.mark.parametrize("name", sorted(LOST))
async def test_a_device_genosd_loses_before_confirming_reverts_by_itself(
    topology_lab, tmp_path: Path, name: str
):
    faults, how, pushed = LOST[name]
    lifecycle = _short_timeout_lifecycle(tmp_path, topology_lab.ports)
    device = topology_lab.sims[name].device
    assert isinstance(device, JunosDevice | EosDevice)
    device.minute = (
        4.0  # 5 "minutes" = 20 s: longer than genosd's three rollback attempts (3 s each)
    )
    before = list(device.active) if isinstance(device, JunosDevice) else _eos_lines(device)
    (topology_lab.directory / f"{name}.faults.json").write_text(faults)
    _, outcome = await _deploy(lifecycle, name)
    assert outcome.status == "failed" and outcome.rollback is not None, outcome.reason
    assert f"reverts by itself within 5 min ({how})" in outcome.rollback
    assert device.commits == pushed
    if isinstance(device, JunosDevice):
        assert device.confirm_deadline is not None
        deadline = device.confirm_deadline
    else:
        [pending] = device.pending.values()
        deadline = pending.deadline
    await asyncio.sleep(max(0.0, deadline - time.time()) + 0.1)
    device.tick()
    after = list(device.active) if isinstance(device, JunosDevice) else _eos_lines(device)
    assert after == before and device.commits[-1] == "revert"


async def test_an_eos_session_that_already_reverted_cannot_be_confirmed_only_discarded(
    topology_lab,
):
    def run() -> None:
        with ConnectHandler(
            device_type="arista_eos",
            host="127.0.0.1",
            username=USER,
            password=PASSWORD,
            port=topology_lab.ports["lab-sw1"],
        ) as conn:
            late = ConfigSession(platform("eos"), "0123456789abcdef")
            late.pending = "genosd-0123456789-1"  # its timer ran out: EOS no longer has it
            with pytest.raises(DeviceError, match="not found"):
                late.confirm(conn, 10, save=False)  # a reverted change is never reported deployed
            late.discard(conn, 10)  # …but discarding it before a rollback is not an error
            assert late.pending is None

    await asyncio.to_thread(run)


async def test_the_topology_from_lldp_and_cdp_facts(topology_lab, tmp_path: Path):
    from aiohttp.test_utils import TestClient, TestServer

    from genosd.api.app import create_app
    from genosd.auth.keys import Role
    from tests.api.conftest import Keys

    config, secrets = write_topology_setup(
        tmp_path, topology_lab.ports, settings="ssh: {host_key_policy: accept-new}\n"
    )
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        headers = {
            "Authorization": f"Bearer {Keys(runtime.core.settings.state_dir).make(Role.operator)}"
        }
        before = await (await client.get("/api/v1/topology", headers=headers)).json()
        assert before["links"] == [] and len(before["devices_without_facts"]) == 4
        for name in topology_lab.sims:
            response = await client.post(f"/api/v1/devices/{name}/facts", headers=headers)
            assert response.status == 200, await response.text()
        graph = await (await client.get("/api/v1/topology", headers=headers)).json()
        found = {
            frozenset([(link["a"], link["a_interface"]), (link["b"], link["b_interface"])])
            for link in graph["links"]
        }
        cabled = {frozenset([(x.a, x.a_interface), (x.b, x.b_interface)]) for x in LINKS}
        assert found == cabled  # five links, each seen from both ends, named the same way
        assert all(len(link["seen_from"]) == 2 for link in graph["links"])
        assert {link["state"] for link in graph["links"]} == {"up"}
        assert not any(node["external"] for node in graph["nodes"])
    finally:
        await client.close()
