"""Discovery over loopback: snmpsim agents on several 127.0.0.x addresses wired by LLDP and CDP,
an SSH server that only shows its banner; proposals reviewed, then accepted into hosts.yaml
with its comments, over the workflow, the API and the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from genosd.api.app import create_app
from genosd.app import discovery
from genosd.app.core import tool_core
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources, load_snapshot
from genosd.auth.keys import Role
from genosd.cli import app as cli_app
from genosd.collectors.facts import FactsResult, store_facts
from genosd.discovery.crawl import crawl, first_leads
from genosd.discovery.probe import probe
from genosd.errors import ConflictError, InventoryError
from genosd.inventory import load_inventory
from genosd.lab.snmp import LAB_SNMP_DEVICES, write_lab_recording
from genosd.settings_discovery import DiscoverySettings
from genosd.settings_sections import SnmpCredential
from genosd.statedb import connect, state_db_path
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer
from tests.discovery_agents import Agent, Peer, agents
from tests.servers import snmpsim

pytestmark = pytest.mark.slow  # several snmpsim agents: CI runs it once, on the default Python

IOS = "1.3.6.1.4.1.9.1.617"
EOS = "1.3.6.1.4.1.30065.1.3011.7150.3282.52"
JUNOS = "1.3.6.1.4.1.2636.1.1.1.2.25"

# core1 (seed) --LLDP-- sw1 --LLDP-- far (127.0.0.20: outside the ranges, never probed)
# core1 --CDP-- rj1 (inventory has it at .6) --LLDP-- lost (.5: nothing SNMP, an SSH banner)
# core1's stored facts (SSH) --LLDP-- hidden (.10), and one at 192.0.2.50 (outside)
DEVICES = [
    Agent(
        "127.0.0.2",
        "dsc-core1.lab.invalid",
        IOS,
        "Cisco IOS Software, C3560 Software (C3560-IPSERVICESK9-M), Version 12.2(55)SE3",
        [
            Peer("GigabitEthernet0/1", "dsc-sw1", "Ethernet1", "127.0.0.3"),
            Peer("GigabitEthernet0/2", "dsc-rj1", "ge-0/0/1", "127.0.0.4", "cdp"),
        ],
    ),
    Agent(
        "127.0.0.3",
        "dsc-sw1",
        EOS,
        "Arista Networks EOS version 4.13.7M running on an Arista Networks DCS-7150S-52",
        [
            Peer("Ethernet1", "dsc-core1", "GigabitEthernet0/1", "127.0.0.2"),
            Peer("Ethernet2", "dsc-far", "Ethernet9", "127.0.0.20"),
        ],
    ),
    Agent(
        "127.0.0.4",
        "dsc-rj1",
        JUNOS,
        "Juniper Networks, Inc. mx960 internet router, kernel JUNOS 13.3R9.13",
        [
            Peer("ge-0/0/1", "dsc-core1", "GigabitEthernet0/2", "127.0.0.2"),
            Peer("ge-0/0/2", "dsc-lost", "Gi0/0", "127.0.0.5"),
        ],
    ),
    # would answer, and must never be asked: it is outside discovery.ranges
    Agent("127.0.0.20", "dsc-far", EOS, "Arista Networks EOS", []),
    # no agent names it: only dsc-core1's stored SSH facts (show lldp neighbors) do
    Agent("127.0.0.10", "dsc-hidden", EOS, "Arista Networks EOS", []),
]

HOSTS = """\
# The lab's devices. Keep this comment.
dsc-core1:
  hostname: 127.0.0.2   # the seed
  platform: ios

# rj1 moved to .4; discovery should notice
dsc-rj1:
  hostname: 127.0.0.6
  platform: junos
  data: {role: edge}

dsc-gone:
  hostname: 127.0.0.7
  platform: ios
# trailing comment
"""


STORED_FACTS = FactsResult(
    "dsc-core1",
    True,
    facts={
        "lldp": [
            {
                "local_interface": "Gi0/9",
                "neighbor_name": "dsc-hidden.lab.invalid",
                "mgmt_address": "127.0.0.10",
            },
            {"local_interface": "Gi0/10", "neighbor_name": "isp-pe", "mgmt_address": "192.0.2.50"},
        ]
    },
)


@pytest.fixture
async def banner_server() -> AsyncIterator[int]:
    """An SSH server at 127.0.0.5 that shows a Cisco banner and nothing else."""

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-Cisco-1.25\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.5", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _setup(tmp_path: Path, snmp_port: int, ssh_port: int) -> Path:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text(HOSTS)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "credentials__wrong__community").write_text("not-this")
    (secrets / "credentials__ro__community").write_text("public")
    config = tmp_path / "genosd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(tmp_path / "state"),
                "inventory_dir": str(inventory),
                "ssh": {"backup_schedule": "", "facts_interval": 0},
                "secrets_dir": str(secrets),
                "discovery": {
                    "seeds": ["127.0.0.2"],
                    "ranges": ["127.0.0.0/28"],
                    "credentials": ["wrong", "ro"],
                    "snmp_port": snmp_port,
                    "ssh_port": ssh_port,
                    "timeout": 0.5,
                    "retries": 0,
                    "depth": 3,
                    "stale_days": 0.00001,
                },
            }
        )
    )
    return config


async def test_discovery_finds_the_graph_inside_the_ranges_and_accepts_with_comments(
    tmp_path: Path, banner_server: int
):
    async with agents(tmp_path / "agents", DEVICES) as port:
        config = _setup(tmp_path, port, banner_server)
        snap = load_snapshot(Sources(config))
        async with tool_core(snap) as core:
            await core.db.run(store_facts, STORED_FACTS)
            first = await discovery.run(core, "alice")
            await asyncio.sleep(1)  # stale_days is under a second here
            run = await discovery.run(core, "alice")

    assert first["status"] == run["status"] == "finished"
    seen = {s["address"]: s for s in run["sightings"]}
    assert set(seen) == {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.10"}
    assert seen["127.0.0.10"]["via"] == "neighbour of dsc-core1 Gi0/9 in its stored facts"
    assert seen["127.0.0.2"]["os"] == "ios" and seen["127.0.0.2"]["credential"] == "ro"
    assert seen["127.0.0.3"]["platform"] == "eos"
    assert seen["127.0.0.4"]["platform"] == "junos"
    assert seen["127.0.0.3"]["via"] == "lldp of dsc-core1.lab.invalid GigabitEthernet0/1"
    assert seen["127.0.0.4"]["via"].startswith("cdp of dsc-core1")
    # .5 answers SSH only: the banner names the platform
    lost = seen["127.0.0.5"]
    assert lost["credential"] is None and lost["banner"] == "SSH-2.0-Cisco-1.25"
    assert lost["platform"] == "ios"
    core_neighbors = {
        (n["name"], n["address"], n["protocol"]) for n in seen["127.0.0.2"]["neighbors"]
    }
    assert core_neighbors == {("dsc-sw1", "127.0.0.3", "lldp"), ("dsc-rj1", "127.0.0.4", "cdp")}
    assert run["summary"]["outside"] == [
        {"name": "dsc-far", "address": "127.0.0.20", "seen_from": "dsc-sw1"},
        {"name": "isp-pe", "address": "192.0.2.50", "seen_from": "dsc-core1"},
    ]
    assert run["summary"]["known"] == {"dsc-core1": "127.0.0.2", "dsc-rj1": "127.0.0.4"}
    # the first run starts dsc-gone's clock; the second one proposes it gone
    assert {p["kind"] for p in first["proposals"]} == {"add", "address"}
    proposals = {(p["kind"], p["device"]): p for p in run["proposals"]}
    # .5 has no sysName (SSH only): its name is made of its address
    assert set(proposals) == {
        ("add", "dsc-sw1"),
        ("add", "dsc-hidden"),
        ("add", "host-127-0-0-5"),
        ("address", "dsc-rj1"),
        ("stale", "dsc-gone"),
    }
    assert proposals[("address", "dsc-rj1")]["old_address"] == "127.0.0.6"
    assert proposals[("address", "dsc-rj1")]["address"] == "127.0.0.4"
    assert proposals[("add", "dsc-sw1")]["credential"] == "ro"

    # accept all of them: the file keeps every comment, rj1's flow data and layout
    async with tool_core(load_snapshot(Sources(config))) as core:
        done = await discovery.accept(core, run["id"], None, "carol")
        with pytest.raises(ConflictError):
            await discovery.accept(core, run["id"], None, "carol")
        audit = await core.db.run(
            lambda db: db.execute(
                "SELECT actor, action, diff_hash FROM audit WHERE action LIKE 'discovery.%'"
            ).fetchall()
        )
    hosts = (tmp_path / "inventory" / "hosts.yaml").read_text()
    for kept in (
        "# The lab's devices. Keep this comment.",
        "  hostname: 127.0.0.2   # the seed",
        "# rj1 moved to .4; discovery should notice",
        "  data: {role: edge}",
        "# trailing comment",
    ):
        assert kept in hosts
    assert "  hostname: 127.0.0.4\n" in hosts and "127.0.0.6" not in hosts.replace(
        "not 127.0.0.6", ""
    )
    assert "# dsc-gone:\n#   hostname: 127.0.0.7\n" in hosts
    assert "accepted by carol" in hosts
    assert done["diff"].startswith("--- a/hosts.yaml")
    inventory = load_inventory(tmp_path / "inventory", load_snapshot(Sources(config)).settings)
    assert set(inventory.devices) >= {"dsc-core1", "dsc-rj1", "dsc-sw1"}
    assert "dsc-gone" not in inventory.devices
    assert inventory.devices["dsc-sw1"].hostname == "127.0.0.3"
    assert inventory.devices["dsc-sw1"].platform == "eos"
    assert inventory.devices["dsc-rj1"].hostname == "127.0.0.4"
    assert inventory.devices["dsc-rj1"].role == "edge"
    assert [a for a, _, _ in audit] == ["alice", "alice", "carol"]
    assert audit[-1][2] and len(audit[-1][2]) == 64


async def test_an_accept_the_inventory_would_refuse_writes_nothing(tmp_path: Path):
    async with agents(tmp_path / "agents", DEVICES[:2]) as port:
        config = _setup(tmp_path, port, 1)
        async with tool_core(load_snapshot(Sources(config))) as core:
            run = await discovery.run(core, "alice")
            # someone removes the credential the proposal names before it is accepted
            (tmp_path / "secrets" / "credentials__ro__community").unlink()
            broken = yaml.safe_load(config.read_text())
            broken["discovery"]["credentials"] = ["wrong"]
            config.write_text(yaml.safe_dump(broken))
        before = (tmp_path / "inventory" / "hosts.yaml").read_text()
        added = [p["id"] for p in run["proposals"] if p["kind"] == "add"]
        assert added
        async with tool_core(load_snapshot(Sources(config))) as core:
            with pytest.raises(InventoryError, match="credential 'ro' is not defined"):
                await discovery.accept(core, run["id"], added, "carol")
            again = await discovery.show(core, run["id"])
    assert (tmp_path / "inventory" / "hosts.yaml").read_text() == before
    assert all(p["status"] == "open" for p in again["proposals"])


async def test_discovery_over_the_api_and_the_cli(tmp_path: Path, banner_server: int):
    async with agents(tmp_path / "agents", DEVICES[:3]) as port:
        config = _setup(tmp_path, port, banner_server)
        runtime = build_runtime(Sources(config))
        client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
        await client.start_server()
        try:
            keys = Keys(runtime.core.settings.state_dir)
            viewer, operator, admin = (
                keys.make(r) for r in (Role.viewer, Role.operator, Role.admin)
            )
            refused = await client.post("/api/v1/discovery/runs", headers=_bearer(viewer))
            assert refused.status == 403
            started = await client.post("/api/v1/discovery/runs", headers=_bearer(operator))
            body = await started.json()
            assert started.status == 202, body
            run_id = body["id"]
            busy = await client.post("/api/v1/discovery/runs", headers=_bearer(operator))
            assert busy.status == 409
            for _ in range(200):
                answer = await client.get(
                    f"/api/v1/discovery/runs/{run_id}", headers=_bearer(viewer)
                )
                run = await answer.json()
                if run["status"] != "running":
                    break
                await asyncio.sleep(0.1)
            assert run["status"] == "finished", run
            sw1 = next(p for p in run["proposals"] if p["device"] == "dsc-sw1")
            denied = await client.post(
                f"/api/v1/discovery/runs/{run_id}/accept",
                json={"ids": [sw1["id"]]},
                headers=_bearer(operator),
            )
            assert denied.status == 403
            accepted = await client.post(
                f"/api/v1/discovery/runs/{run_id}/accept",
                json={"ids": [sw1["id"]]},
                headers=_bearer(admin),
            )
            decision = await accepted.json()
            assert accepted.status == 200, decision
            assert decision["devices_added"] == ["dsc-sw1"] and decision["reloaded"]
            assert "dsc-sw1" in runtime.core.inventory.devices
            missing = await client.post(
                f"/api/v1/discovery/runs/{run_id}/accept",
                json={"ids": [99]},
                headers=_bearer(admin),
            )
            assert missing.status == 404
        finally:
            await client.close()

    runner = CliRunner()

    async def cli(*args: str) -> Result:
        return await asyncio.to_thread(
            lambda: runner.invoke(cli_app, [*args, "--config", str(config)])
        )

    shown = await cli("discover", "show", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    open_ids = [p["id"] for p in data["proposals"] if p["status"] == "open"]
    assert open_ids
    dismissed = await cli("discover", "dismiss", str(data["id"]), *map(str, open_ids))
    assert dismissed.exit_code == 0, dismissed.output
    nothing = await cli("discover", "accept", str(data["id"]), "--all")
    assert nothing.exit_code == 2 and "no open proposal" in nothing.output
    db = connect(state_db_path(tmp_path / "state"))
    actions = [a for (a,) in db.execute("SELECT action FROM audit WHERE action LIKE 'discovery.%'")]
    db.close()
    assert actions == ["discovery.run", "discovery.accept", "discovery.dismiss"]


async def test_a_real_switch_recording_names_its_cdp_neighbours(tmp_path: Path):
    """The CDP cache of a real Catalyst 3560 (snmpsim-data): ten neighbours, their addresses
    and ports, none of them in a range, so none is probed."""
    device = next(d for d in LAB_SNMP_DEVICES if d.recording == "network/switch/cisco-c3560")
    write_lab_recording(device, tmp_path / "data")
    async with snmpsim(tmp_path / "data", tmp_path / "cache") as port:
        settings = DiscoverySettings(
            seeds=["127.0.0.1"], credentials=["lab"], snmp_port=port, ssh_port=1, timeout=1
        )
        credentials = {"lab": SnmpCredential(community=SecretStr(device.name))}
        for _ in range(50):
            sighting = await probe("127.0.0.1", settings, credentials)
            if sighting.answered:
                break
            await asyncio.sleep(0.2)
        result = await crawl(
            settings, lambda a: probe(a, settings, credentials), first_leads(settings, [])
        )
    assert sighting.sys_name == "DUMSYS-04" and sighting.platform == "ios"
    cdp = [n for n in sighting.neighbors if n.protocol == "cdp"]
    assert len(cdp) == 9
    assert all(n.address and n.address.startswith("10.1.100.") for n in cdp)
    assert {"kexuehuitang", "zichanchu", "RanQiLou"} <= {n.name for n in cdp}
    assert all(n.local_interface and n.interface for n in cdp)
    assert [s.address for _, s in result.sightings] == ["127.0.0.1"]
    assert len(result.outside) == len(sighting.neighbors)
