"""Coordination between genosd nodes: who polls which device, leases, the leader of singletons.

`LocalCoordinator` (the default) is a single node that owns everything and needs nothing; the
Redis coordinator (genosd.cluster.redis_coordinator) shares the work of several nodes.
"""

from genosd.cluster.coordinator import Coordinator, Lease, LocalCoordinator, Member
from genosd.cluster.factory import build_coordinator, build_queue
from genosd.cluster.lease import held_lease
from genosd.cluster.ownership import owner_of
from genosd.cluster.workqueue import LocalQueue, Work, WorkQueue, WorkResult

__all__ = [
    "Coordinator",
    "Lease",
    "LocalCoordinator",
    "LocalQueue",
    "Member",
    "Work",
    "WorkQueue",
    "WorkResult",
    "build_coordinator",
    "build_queue",
    "held_lease",
    "owner_of",
]
