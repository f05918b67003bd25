"""Device work split across cluster nodes (a real redis-server, the SSH lab): each node runs a
part of a playbook's `show` step, a node that dies holding parts mid-run leaves the run complete
(its parts taken over and run again by the others), and backups are read by the nodes and
committed to the asking node's history, refused from a node that masks with another key."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from genosd.app.backups import run_backup
from genosd.app.facts import collect, stored
from genosd.app.playbook_engine import finish_run
from genosd.app.playbook_worker import run_part
from genosd.app.playbooks import begin
from genosd.app.runtime import Runtime
from genosd.cluster import Work
from genosd.errors import InvalidRequestError
from genosd.lab.ios_config import RunningConfig
from genosd.lab.ios_device import IosDevice
from genosd.playbooks.loader import load_playbook
from tests.cluster_nodes import close_nodes, cluster_node, start_nodes
from tests.ssh_lab import BASE, PASSWORD, SECRET, Lab

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python

ROUTERS = [f"r{n}" for n in range(1, 7)]
PLAYBOOK = """name: versions
steps:
  - name: version
    show: {commands: [show version]}
    register: version
  - name: check
    assert: {that: ["'Cisco IOS' in version.output"]}
"""


@pytest.fixture
async def six_routers(tmp_path: Path):
    """Six simulated IOS routers over real SSH."""
    lab = Lab(tmp_path / "six")
    lab.directory.mkdir()
    await lab.start(
        [
            IosDevice(name, config=RunningConfig.parse(BASE.format(name=name, peer="x", n=n)))
            for n, name in enumerate(ROUTERS, start=1)
        ]
    )
    yield lab
    await lab.close()


async def _cluster(tmp_path: Path, ports: dict[str, int], redis: str) -> list[Runtime]:
    nodes = [cluster_node(tmp_path / name, ports, redis, name) for name in ("a", "b", "c")]
    await start_nodes(nodes)
    return nodes


async def _start_run(runtime: Runtime, tmp_path: Path):
    path = tmp_path / "versions.yaml"
    path.write_text(PLAYBOOK)
    playbook = load_playbook(path)
    record = await begin(runtime.core, playbook, {}, actor="test")
    return playbook, record


def _failures(record) -> list:
    return [(n, r.node, r.error) for s in record.steps for n, r in s.hosts.items() if r.error]


def _version_hosts(record) -> dict:
    [step] = [s for s in record.steps if s.step == "version"]
    return step.hosts


async def test_a_steps_hosts_are_split_across_the_nodes(six_routers, tmp_path, redis_server):
    nodes = await _cluster(tmp_path, six_routers.ports, redis_server.url)
    try:
        playbook, record = await _start_run(nodes[0], tmp_path)
        record = await finish_run(nodes[0].core, playbook, record)
        assert record.status == "ok", _failures(record)
        hosts = _version_hosts(record)
        assert sorted(hosts) == ROUTERS
        assert all(r.status == "ok" and "Cisco IOS" in r.data["output"] for r in hosts.values())
        ran_on = {r.node for r in hosts.values()}
        assert len(ran_on) >= 2 and ran_on <= {"a", "b", "c"}, ran_on
        # the assert step ran on the run's own node, over what the others registered
        [check] = [s for s in record.steps if s.step == "check"]
        assert {r.status for r in check.hosts.values()} == {"ok"}
        assert {r.node for r in check.hosts.values()} == {None}
    finally:
        await close_nodes(nodes)


async def test_a_node_dying_mid_run_leaves_the_run_complete(six_routers, tmp_path, redis_server):
    for sim in six_routers.sims.values():  # every part takes a while: time to kill a node in it
        assert sim.faults_path is not None
        sim.faults_path.write_text(json.dumps({"slow": {"^show version": 3}}))
    nodes = await _cluster(tmp_path, six_routers.ports, redis_server.url)
    by_name = {n.coordinator.node: n for n in nodes}
    probe = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        playbook, record = await _start_run(nodes[0], tmp_path)
        run = asyncio.create_task(finish_run(nodes[0].core, playbook, record))
        victim, held = None, 0
        deadline = time.monotonic() + 15
        while victim is None:  # a node other than the run's own, running parts now
            assert time.monotonic() < deadline, "no other node took a part"
            for consumer in await probe.xinfo_consumers("genosd:work:default", "genosd"):
                if consumer["name"] != "a" and consumer["pending"] > 0:
                    victim, held = consumer["name"], consumer["pending"]
            await asyncio.sleep(0.05)
        await by_name[victim].core.work.stop()  # dies: its parts are never answered nor acked
        record = await asyncio.wait_for(run, 60)
        assert record.status == "ok", _failures(record)
        hosts = _version_hosts(record)
        assert sorted(hosts) == ROUTERS
        assert all(r.status == "ok" and "Cisco IOS" in r.data["output"] for r in hosts.values())
        assert victim not in {r.node for r in hosts.values()}
        survivors = [n for n in nodes if n.coordinator.node != victim]
        assert sum(n.core.work.reclaimed for n in survivors) >= held
    finally:
        await probe.aclose()
        await close_nodes(nodes)


async def test_a_part_naming_unknown_hosts_or_other_actions(ssh_lab, tmp_path, redis_server):
    node = cluster_node(tmp_path / "solo", ssh_lab.ports, redis_server.url, "solo")
    playbook = {"name": "p", "steps": [{"name": "v", "show": {"commands": ["show version"]}}]}
    body = {
        "run": 1,
        "playbook": playbook,
        "actor": "test",
        "check": False,
        "step": {"name": "v", "action": "show", "args": {"commands": ["show version"]}},
        "hosts": ["r1", "ghost"],
        "contexts": {"r1": {"host": {"name": "r1"}}, "ghost": {}},
    }
    await node.core.open()
    try:
        sent = await run_part(node.core, Work("w1", "playbook.hosts", "default", body, "x"))
        hosts = sent["hosts"]
        assert hosts["r1"]["status"] == "ok" and hosts["r1"]["node"] == "solo"
        assert hosts["ghost"] == {
            "status": "failed",
            "data": {},
            "error": "ghost is not in solo's inventory",
            "attempts": 1,
            "node": "solo",
        }
        deploy = {**body, "step": {"name": "d", "action": "deploy", "args": {}}}
        with pytest.raises(InvalidRequestError, match="'deploy' steps are not run"):
            await run_part(node.core, Work("w2", "playbook.hosts", "default", deploy, "x"))
        with pytest.raises(InvalidRequestError, match="unreadable playbook part from x"):
            await run_part(node.core, Work("w3", "playbook.hosts", "default", {"hosts": 1}, "x"))
    finally:
        await node.core.close()


async def test_backups_and_facts_read_across_nodes_kept_by_the_asking_node(
    six_routers, tmp_path, redis_server
):
    nodes = await _cluster(tmp_path, six_routers.ports, redis_server.url)
    a = nodes[0].core
    try:
        reports: dict = {}
        first = await run_backup(a, list(a.inventory.devices.values()), "test", reports)
        assert [(r.device, r.ok, r.changed) for r in first] == [(n, True, True) for n in ROUTERS]
        assert sorted(reports) == ROUTERS and all(r.rules_applied > 0 for r in reports.values())
        assert sorted(a.compliance) == ROUTERS
        for name in ROUTERS:
            text = a.history.current(name)
            assert text is not None and f"hostname {name}" in text
            assert PASSWORD not in text and SECRET not in text  # masked where it was read
        readers = {
            n.coordinator.node
            for n in nodes
            for name in ROUTERS
            if n.core.known_hosts.pinned("127.0.0.1", six_routers.ports[name])
        }
        assert len(readers) >= 2, readers  # the parts were read on several nodes
        # read again, by whichever nodes take the parts now: the same key masks alike, so the
        # history does not change
        again = await run_backup(a, list(a.inventory.devices.values()), "test")
        assert [(r.ok, r.changed) for r in again] == [(True, False)] * len(ROUTERS)
        # facts: collected by the nodes, stored where they were asked for
        facts = await collect(a, list(a.inventory.devices.values()))
        assert [(f.device, f.ok) for f in facts] == [(n, True) for n in ROUTERS]
        for name in ROUTERS:
            kept = await stored(a, name)
            assert kept.facts["version"][0]["hostname"] == name
    finally:
        await close_nodes(nodes)


async def test_a_node_masking_with_another_key_is_refused(ssh_lab, tmp_path, redis_server):
    url = redis_server.url
    reader = cluster_node(tmp_path / "reader", ssh_lab.ports, url, "reader", mask_key=None)
    asking = cluster_node(tmp_path / "asking", ssh_lab.ports, url, "asking", "[elsewhere]", None)
    nodes = [asking, reader]
    await start_nodes(nodes)
    try:
        core = asking.core
        results = await run_backup(core, list(core.inventory.devices.values()), "test")
        refused = (
            "reader masks secrets with another key than this node: give every node the same "
            "<state_dir>/mask.key"
        )
        assert [(r.ok, r.error) for r in results] == [(False, refused)] * 2
        assert core.history.current("r1") is None
    finally:
        await close_nodes(nodes)
