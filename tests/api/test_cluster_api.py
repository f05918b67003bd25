"""GET /api/v1/cluster and `genosd cluster status`: a single node, and a node on a real Redis."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup

GENOSD = str(Path(sys.executable).parent / "genosd")


async def _cli(*args: str) -> tuple[int | None, bytes, bytes]:
    """`genosd ARGS` beside the test's event loop (the daemon under test keeps beating)."""
    process = await asyncio.create_subprocess_exec(
        GENOSD, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, stdout, stderr


async def test_a_single_node_owns_every_device(api):
    client, keys = await api("cluster: {node: solo}\n")
    assert (await client.get("/api/v1/cluster")).status == 401
    auth = {"Authorization": f"Bearer {keys.make(Role.viewer)}"}
    picture = await (await client.get("/api/v1/cluster", headers=auth)).json()
    assert picture["backend"] == "local" and picture["leader"] == "solo"
    assert picture["unowned_devices"] == 0
    assert [(n["node"], n["devices"], n["self"]) for n in picture["nodes"]] == [("solo", 2, True)]
    devices = await (await client.get("/api/v1/cluster/devices", headers=auth)).json()
    assert devices["items"] == [
        {"device": "r1", "group": "default", "owner": "solo"},
        {"device": "sw1", "group": "default", "owner": "solo"},
    ]
    other = await client.get("/api/v1/cluster/devices?node=elsewhere", headers=auth)
    assert (await other.json())["items"] == []
    bad = await client.get("/api/v1/cluster/devices?nodes=x", headers=auth)
    assert bad.status == 400


async def test_a_redis_node_shows_its_groups_and_devices_no_one_polls(
    tmp_path, snmpd, redis_server
):
    redis = redis_server
    config = write_setup(
        tmp_path,
        snmpd,
        f"cluster: {{backend: redis, redis_url: '{redis.url}', node: api1, heartbeat: 0.2, "
        "node_ttl: 2}\n",
    )
    hosts = config.parent / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("site: ams1,", "site: ams1, poller_group: dc9,"))
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        auth = {
            "Authorization": f"Bearer {Keys(runtime.core.settings.state_dir).make(Role.viewer)}"
        }
        picture = await (await client.get("/api/v1/cluster", headers=auth)).json()
        assert picture["backend"] == "redis" and picture["connected"] and picture["active"]
        assert picture["leader"] == "api1"
        assert picture["unowned_devices"] == 1  # r1's group dc9 has no node
        [node] = picture["nodes"]
        assert node["node"] == "api1" and node["groups"] == ["default"] and node["devices"] == 1
        devices = await (await client.get("/api/v1/cluster/devices", headers=auth)).json()
        assert {d["device"]: d["owner"] for d in devices["items"]} == {"r1": None, "sw1": "api1"}
        assert picture["leases"] == []
        lease = await runtime.coordinator.acquire("device:sw1", 30)
        assert lease is not None
        held = (await (await client.get("/api/v1/cluster", headers=auth)).json())["leases"]
        assert [(h["name"], h["holder"]) for h in held] == [("device:sw1", "api1")]
        assert 0 < held[0]["expires_in"] <= 30
        await runtime.coordinator.release(lease)
        metrics = await (await client.get("/metrics", headers=auth)).text()
        for line in (
            "genosd_cluster_active 1.0",
            "genosd_cluster_leader 1.0",
            "genosd_cluster_devices_owned 1.0",
            "genosd_cluster_nodes 1.0",
        ):
            assert line in metrics.splitlines(), line

        # the CLI runs beside the daemon's loop (which keeps beating), as an operator's would
        code, stdout, stderr = await _cli("cluster", "status", "--json", "--config", str(config))
        assert code == 0, stderr
        seen = json.loads(stdout)
        assert seen["leader"] == "api1" and seen["unowned_devices"] == 1
        assert [(n["node"], n["devices"]) for n in seen["nodes"]] == [("api1", 1)]
    finally:
        await client.close()
        redis.stop()
    code, _, stderr = await _cli("cluster", "status", "--config", str(config))
    assert code == 1 and b"cannot reach Redis" in stderr


async def test_cluster_settings_changed_on_disk_wait_for_a_restart(api, tmp_path):
    client, keys = await api("cluster: {node: solo, heartbeat: 2, node_ttl: 10}\n")
    admin = {"Authorization": f"Bearer {keys.make(Role.admin)}"}
    config = tmp_path / "genosd.yaml"
    config.write_text(
        config.read_text().replace("node: solo, heartbeat: 2", "node: other, heartbeat: 4")
    )
    report = await (await client.post("/api/v1/system/reload", headers=admin)).json()
    assert sorted(report["restart_required"]) == ["cluster.heartbeat", "cluster.node"]
    shown = await (await client.get("/api/v1/system/settings", headers=admin)).json()
    assert shown["settings"]["cluster"]["node"] == "solo"  # the running node keeps its name
    assert shown["settings"]["cluster"]["heartbeat"] == 2
    picture = await (await client.get("/api/v1/cluster", headers=admin)).json()
    assert picture["node"] == "solo"
