"""Deploys in a cluster (a real redis-server, the SSH lab): two nodes' deploys to one router never
overlap (the device's cluster lease); a deploy is pushed by a node of the device's poller group
and recorded by the node that asked; a push cut off by its node dying is never repeated."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from redis.asyncio import Redis

from genosd.app import changes
from genosd.app.runtime import Runtime
from genosd.config.changes import approve_change, get_change
from genosd.errors import ConflictError, DeviceError
from genosd.statedb import connect, state_db_path
from tests.cluster_nodes import close_nodes, cluster_node, start_nodes
from tests.integration.test_config_deploy import _plan

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


async def _approved_change(runtime: Runtime, device: str) -> int:
    db = connect(state_db_path(runtime.core.settings.state_dir))
    _, sha, change_id = await _plan(runtime.core.lifecycle, db, device)
    approve_change(db, change_id, sha256=sha, actor="test:approver")
    db.close()
    return change_id


async def test_two_nodes_deploying_to_one_device_never_overlap(ssh_lab, tmp_path, redis_server):
    redis = redis_server
    a = cluster_node(tmp_path / "a", ssh_lab.ports, redis.url, "a")
    b = cluster_node(tmp_path / "b", ssh_lab.ports, redis.url, "b")
    await start_nodes([a, b])
    try:
        first, second = await _approved_change(a, "r1"), await _approved_change(b, "r1")
        outcomes = await asyncio.gather(
            changes.deploy(a.core, first, "alice"),
            changes.deploy(b.core, second, "bob"),
            return_exceptions=True,
        )
        deployed = [o for o in outcomes if isinstance(o, changes.DeployResult)]
        refused = [o for o in outcomes if isinstance(o, ConflictError)]
        assert len(deployed) == 1 and len(refused) == 1, outcomes
        assert deployed[0].outcome.status == "deployed", deployed[0].outcome.reason
        winner = "a" if outcomes[0] is deployed[0] else "b"
        assert f"device:r1 is held by {winner}" in str(refused[0])
        # the lease is given back: the other node may deploy to r1 now (nothing left to do
        # there, so r2 shows the lease is per device)
        other = b if winner == "a" else a
        change = await _approved_change(other, "r2")
        result = await changes.deploy(other.core, change, "carol")
        assert result.outcome.status == "deployed", result.outcome.reason
        assert await other.coordinator.acquire("device:r1", 5) is not None
    finally:
        await close_nodes([a, b])


async def test_a_deploy_is_pushed_by_a_node_of_the_devices_group(ssh_lab, tmp_path, redis_server):
    asking = cluster_node(
        tmp_path / "asking", ssh_lab.ports, redis_server.url, "asking", "[elsewhere]"
    )
    pusher = cluster_node(tmp_path / "pusher", ssh_lab.ports, redis_server.url, "pusher")
    await start_nodes([asking, pusher])
    try:
        change = await _approved_change(asking, "r1")
        result = await changes.deploy(asking.core, change, "alice")
        assert result.outcome.status == "deployed", result.outcome.reason
        assert result.backup is not None and result.backup.changed
        # the record and the history are the asking node's; the pusher kept nothing
        assert asking.core.history.current("r1") is not None
        assert pusher.core.history.current("r1") is None
        assert pusher.core.known_hosts.pinned("127.0.0.1", ssh_lab.ports["r1"]) is not None
        db = connect(state_db_path(asking.core.settings.state_dir))
        assert get_change(db, change).status == "deployed"
        db.close()
    finally:
        await close_nodes([asking, pusher])


async def test_a_push_cut_off_by_its_node_dying_is_not_repeated(ssh_lab, tmp_path, redis_server):
    sim = ssh_lab.sims["r1"]
    assert sim.faults_path is not None
    sim.faults_path.write_text(json.dumps({"slow": {"^ntp server": 3}}))  # a push that lasts
    asking = cluster_node(
        tmp_path / "asking", ssh_lab.ports, redis_server.url, "asking", "[elsewhere]"
    )
    first = cluster_node(tmp_path / "first", ssh_lab.ports, redis_server.url, "first")
    second = cluster_node(tmp_path / "second", ssh_lab.ports, redis_server.url, "second")
    nodes = [asking, first, second]
    await start_nodes(nodes)
    probe = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        change = await _approved_change(asking, "r1")
        deploy = asyncio.create_task(changes.deploy(asking.core, change, "alice"))
        pushing = None
        deadline = time.monotonic() + 15
        while pushing is None:
            assert time.monotonic() < deadline, "no node took the deploy"
            for consumer in await probe.xinfo_consumers("genosd:work:default", "genosd"):
                if consumer["pending"] > 0:
                    pushing = consumer["name"]
            await asyncio.sleep(0.05)
        dying = first if pushing == "first" else second
        await asyncio.sleep(0.5)  # mid-push
        await dying.core.work.stop()  # dies: the item is neither answered nor acknowledged
        with pytest.raises(DeviceError, match="cut off mid-way; not repeated"):
            await asyncio.wait_for(deploy, 60)
        db = connect(state_db_path(asking.core.settings.state_dir))
        stored = get_change(db, change)
        db.close()
        assert stored.status == "failed" and "not repeated" in str(stored.result)
    finally:
        await probe.aclose()
        await close_nodes(nodes)
