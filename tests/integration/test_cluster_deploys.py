"""Two cluster nodes, each with an approved change for the same router: their deploys never
overlap (the device's cluster lease in a real redis-server), over the SSH lab."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from genosd.app import changes
from genosd.app.runtime import Runtime, build_runtime
from genosd.app.snapshot import Sources
from genosd.config.changes import approve_change
from genosd.errors import ConflictError
from genosd.statedb import connect, state_db_path
from tests.integration.test_config_deploy import _plan
from tests.ssh_lab import write_setup

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


def _node(directory: Path, ports: dict[str, int], redis: str, name: str) -> Runtime:
    directory.mkdir()
    cluster = (
        f"cluster: {{backend: redis, redis_url: '{redis}', node: {name}, heartbeat: 0.5, "
        "node_ttl: 5}\n"
    )
    config, secrets = write_setup(directory, ports, settings=cluster)
    return build_runtime(Sources(config, None, (secrets,)))


async def _approved_change(runtime: Runtime, device: str) -> int:
    db = connect(state_db_path(runtime.core.settings.state_dir))
    _, sha, change_id = await _plan(runtime.core.lifecycle, db, device)
    approve_change(db, change_id, sha256=sha, actor="test:approver")
    db.close()
    return change_id


async def test_two_nodes_deploying_to_one_device_never_overlap(ssh_lab, tmp_path, redis_server):
    redis = redis_server
    a = _node(tmp_path / "a", ssh_lab.ports, redis.url, "a")
    b = _node(tmp_path / "b", ssh_lab.ports, redis.url, "b")
    for runtime in (a, b):
        await runtime.core.open()
        await runtime.cluster.start()
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
        for runtime in (a, b):
            await runtime.cluster.stop()
            await runtime.core.close()
