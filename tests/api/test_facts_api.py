"""SSH facts: collected at start-up and on demand, parsed by ntc-templates, points for non-SNMP devices."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer
from tests.ssh_lab import write_setup


async def test_facts_are_collected_parsed_stored_and_feed_metrics(ssh_lab, tmp_path: Path):
    config, secrets = write_setup(
        tmp_path, ssh_lab.ports, settings="ssh: {backup_schedule: '', facts_interval: 3600}\n"
    )
    hosts = tmp_path / "inventory" / "hosts.yaml"
    # r2 has no SNMP: its interface metrics come from SSH facts
    hosts.write_text(
        hosts.read_text().replace(
            f"    ssh: {{port: {ssh_lab.ports['r2']}}}\n",
            f"    ssh: {{port: {ssh_lab.ports['r2']}}}\n    snmp: {{enabled: false}}\n",
        )
    )
    state = build_runtime(Sources(config, None, (secrets,)))
    assert state.core.inventory.devices["r2"].snmp is None
    client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
    await client.start_server()
    try:
        keys = Keys(state.core.settings.state_dir)
        viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
        for _ in range(100):  # the daemon collects once at start-up
            answer = await client.get("/api/v1/devices/r1/facts", headers=_bearer(viewer))
            if answer.status == 200:
                break
            assert answer.status == 404
            await asyncio.sleep(0.2)
        body = await answer.json()
        assert answer.status == 200, body
        facts = body["facts"]
        assert facts["version"][0]["hostname"] == "r1"
        assert facts["version"][0]["version"].startswith("15.")
        by_name = {row["interface"]: row for row in facts["interfaces"]}
        assert by_name["GigabitEthernet0/0"]["ip_address"] == "10.0.12.1"
        assert by_name["GigabitEthernet0/1"]["link_status"] == "administratively down"
        assert {r["interface"] for r in facts["ip_interfaces"]} >= {
            "Loopback0",
            "GigabitEthernet0/0",
        }
        assert [n["neighbor_name"].split(".")[0] for n in facts["lldp"]] == ["r2"]
        assert [n["neighbor_name"].split(".")[0] for n in facts["cdp"]] == ["r2"]
        assert "refused 'show ip arp'" in body["errors"]["arp"]  # the lab has no ARP table
        # templates see the stored facts
        stored = (await asyncio.to_thread(state.core.lifecycle.facts, ["r1"]))["r1"]
        assert stored["version"][0]["serial"] == facts["version"][0]["serial"]

        ran = await client.post("/api/v1/devices/r2/facts", headers=_bearer(operator))
        run = await ran.json()
        assert ran.status == 200 and run["ok"], run
        assert {"version", "interfaces", "lldp"} <= set(run["kinds"])
        series = (
            await (
                await client.get(
                    "/api/v1/devices/r2/metrics?measurement=interface", headers=_bearer(viewer)
                )
            ).json()
        )["series"]
        gi1 = next(s for s in series if s["tags"]["ifName"] == "GigabitEthernet0/1")
        assert gi1["tags"]["source"] == "ssh"
        assert gi1["fields"]["ifOperStatus"] == 2 and gi1["fields"]["ifAdminStatus"] == 2
        assert gi1["fields"]["ifInErrors"] == 0
        r1 = (
            await (
                await client.get(
                    "/api/v1/devices/r1/metrics?measurement=interface", headers=_bearer(viewer)
                )
            ).json()
        )["series"]
        assert all(s["tags"].get("source") != "ssh" for s in r1)  # SNMP devices: no SSH points
        assert (
            await client.post("/api/v1/devices/r1/facts", headers=_bearer(viewer))
        ).status == 403
    finally:
        await client.close()
