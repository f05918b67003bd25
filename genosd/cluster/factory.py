"""The coordinator `cluster.backend` names."""

from __future__ import annotations

from genosd.cluster.coordinator import Coordinator, LocalCoordinator
from genosd.cluster.workqueue import LocalQueue, WorkQueue
from genosd.settings_cluster import ClusterSettings


def build_coordinator(settings: ClusterSettings, *, member: bool = True) -> Coordinator:
    """Local, or Redis (imported only when asked for); `member=False` for a CLI process, which
    takes leases but never joins, polls or leads."""
    if settings.backend == "local":
        return LocalCoordinator(settings.node, tuple(settings.poller_groups))
    from genosd.cluster.redis_coordinator import RedisCoordinator

    return RedisCoordinator(settings, member=member)


def build_queue(settings: ClusterSettings) -> WorkQueue:
    """The work queue of `cluster.backend`: in-process, or the cluster's Redis streams."""
    if settings.backend == "local":
        return LocalQueue(settings.node)
    from genosd.cluster.redis_queue import RedisQueue

    return RedisQueue(settings)
