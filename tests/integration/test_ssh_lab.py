"""The SSH device simulator against the real clients: netmiko, scrapli, NAPALM, ntc-templates."""

from __future__ import annotations

import asyncio
import json

from napalm import get_network_driver
from netmiko import ConnectHandler
from ntc_templates.parse import parse_output
from scrapli.driver.core import AsyncIOSXEDriver

from tests.ssh_lab import PASSWORD, SECRET, USER


def _netmiko(port: int, **extra):
    return ConnectHandler(
        device_type="cisco_ios",
        host="127.0.0.1",
        port=port,
        username=USER,
        password=PASSWORD,
        secret=SECRET,
        fast_cli=False,
        **extra,
    )


async def test_netmiko_reads_parses_and_changes_the_running_config(ssh_lab):
    sim, port = ssh_lab.sims["r1"], ssh_lab.ports["r1"]

    def session() -> dict:
        with _netmiko(port) as conn:
            out = {
                cmd: conn.send_command(cmd)
                for cmd in (
                    "show version",
                    "show ip interface brief",
                    "show interfaces",
                    "show lldp neighbors detail",
                    "show cdp neighbors detail",
                )
            }
            conn.send_config_set(
                [
                    "interface GigabitEthernet0/1",
                    "description uplink to core",
                    "ip address 192.0.2.1 255.255.255.0",
                    "no shutdown",
                    "exit",
                    "ntp server 192.0.2.123",
                ]
            )
            out["after"] = conn.send_command("show running-config")
            out["brief_after"] = conn.send_command("show ip interface brief")
            return out

    out = await asyncio.to_thread(session)
    version = parse_output("cisco_ios", "show version", out["show version"])[0]
    assert version["hostname"] == "r1" and version["version"] == "15.6(2)T"
    assert version["serial"] == [sim.device.serial]
    brief = {
        r["interface"]: r
        for r in parse_output(
            "cisco_ios", "show ip interface brief", out["show ip interface brief"]
        )
    }
    assert brief["GigabitEthernet0/0"]["ip_address"] == "10.0.12.1"
    assert brief["GigabitEthernet0/1"]["status"] == "administratively down"
    interfaces = parse_output("cisco_ios", "show interfaces", out["show interfaces"])
    assert {i["interface"] for i in interfaces} == {
        "Loopback0",
        "GigabitEthernet0/0",
        "GigabitEthernet0/1",
    }
    lldp = parse_output(
        "cisco_ios", "show lldp neighbors detail", out["show lldp neighbors detail"]
    )
    assert [(n["local_interface"], n["neighbor_name"]) for n in lldp] == [
        ("Gi0/0", "r2.lab.genosd.invalid")
    ]
    cdp = parse_output("cisco_ios", "show cdp neighbors detail", out["show cdp neighbors detail"])
    assert cdp[0]["neighbor_name"] == "r2.lab.genosd.invalid"
    assert cdp[0]["local_interface"] == "GigabitEthernet0/0"
    assert (
        "interface GigabitEthernet0/1\n description uplink to core\n ip address 192.0.2.1 "
        "255.255.255.0\n!" in out["after"]
    )
    assert "ntp server 192.0.2.123" in out["after"]
    assert "up                    up" in out["brief_after"].splitlines()[-2]


async def test_scrapli_and_napalm_getters_work_like_on_real_gear(ssh_lab):
    port = ssh_lab.ports["r2"]
    async with AsyncIOSXEDriver(
        host="127.0.0.1",
        port=port,
        auth_username=USER,
        auth_password=PASSWORD,
        auth_secondary=SECRET,
        auth_strict_key=False,
        transport="asyncssh",
    ) as conn:
        response = await conn.send_command("show version")
        assert "r2 uptime is" in response.result
        configs = await conn.send_configs(
            ["hostname core-r2", "interface Loopback9", "ip address 10.9.9.9 255.255.255.255"]
        )
        assert not configs.failed
        running = await conn.send_command("show running-config")  # back to privilege exec first
        assert "hostname core-r2" in running.result and "interface Loopback9" in running.result
        assert await conn.get_prompt() == "core-r2#"

    def getters() -> dict:
        driver = get_network_driver("ios")
        device = driver("127.0.0.1", USER, PASSWORD, optional_args={"port": port, "secret": SECRET})
        device.open()
        try:
            return {
                "facts": device.get_facts(),
                "interfaces": device.get_interfaces(),
                "lldp": device.get_lldp_neighbors(),
            }
        finally:
            device.close()

    got = await asyncio.to_thread(getters)
    assert got["facts"]["hostname"] == "core-r2" and got["facts"]["os_version"].startswith("IOSv")
    assert "Loopback9" in got["facts"]["interface_list"]
    assert got["interfaces"]["GigabitEthernet0/0"]["is_up"]
    assert not got["interfaces"]["GigabitEthernet0/1"]["is_enabled"]
    assert got["lldp"]["GigabitEthernet0/0"][0]["hostname"].startswith("r1")


async def test_faults_reject_and_drop(ssh_lab):
    sim, port = ssh_lab.sims["r1"], ssh_lab.ports["r1"]
    assert sim.faults_path is not None
    sim.faults_path.write_text(json.dumps({"reject": ["^ntp server"], "drop": ["^snmp-server"]}))

    def session() -> tuple[str, str]:
        with _netmiko(port) as conn:
            rejected = conn.send_config_set(["ntp server 192.0.2.1"])
            try:
                conn.send_config_set(["snmp-server community x RO"], read_timeout=3)
            except Exception as exc:  # the session is cut: netmiko raises on the dead channel
                return rejected, type(exc).__name__
            return rejected, "no error"

    rejected, dropped = await asyncio.to_thread(session)
    assert "% Invalid input detected" in rejected
    assert dropped != "no error"
    assert "ntp server 192.0.2.1" not in sim.device.config.render()
    assert "snmp-server community x RO" not in sim.device.config.render()
