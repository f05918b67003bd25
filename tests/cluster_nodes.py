"""Cluster nodes in the test process: Runtimes sharing a real redis-server and the SSH lab."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from genosd.app.runtime import Runtime, build_runtime
from genosd.app.snapshot import Sources
from genosd.config.secrets import KEY_FILE
from tests.ssh_lab import write_setup

MASK_KEY = "5a" * 32  # one masking key for the cluster, as docs/scale.md asks


def cluster_node(
    directory: Path,
    ports: dict[str, int],
    redis: str,
    name: str,
    groups: str = "[default]",
    mask_key: str | None = MASK_KEY,
) -> Runtime:
    """A node `name` serving `groups`, quick to notice others (and dead work); `mask_key` None
    leaves it its own key."""
    directory.mkdir()
    settings = (
        f"cluster: {{backend: redis, redis_url: '{redis}', node: {name}, heartbeat: 0.5, "
        f"node_ttl: 5, work_lease: 2, poller_groups: {groups}}}\n"
        "ssh: {host_key_policy: accept-new}\n"
    )
    config, secrets = write_setup(directory, ports, settings=settings)
    runtime = build_runtime(Sources(config, None, (secrets,)))
    if mask_key is not None:
        (runtime.core.settings.state_dir / KEY_FILE).write_text(mask_key)
    return runtime


async def start_nodes(nodes: list[Runtime]) -> None:
    """Open, start and wait until every node sees all the others."""
    # the nodes and the lab in one process share one default executor, which asyncssh's
    # servers need for every key exchange: room for every node's SSH work at once
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(32))
    for runtime in nodes:
        await runtime.core.open()
        await runtime.pipeline.start()  # compliance scores become points
        await runtime.cluster.start()
    deadline = time.monotonic() + 10
    while any(len(n.coordinator.members()) < len(nodes) for n in nodes):
        assert time.monotonic() < deadline, "the nodes never saw each other"
        await asyncio.sleep(0.2)


async def close_nodes(nodes: list[Runtime]) -> None:
    """Stop what start_nodes started."""
    for runtime in nodes:
        await runtime.cluster.stop()
        await runtime.pipeline.stop()
        await runtime.core.close()
