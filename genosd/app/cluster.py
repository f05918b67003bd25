"""This node's place in the cluster: the coordinator, its heartbeat, its side of the work queue,
and the cluster's picture.

A single node (cluster.backend: local) owns everything and runs no heartbeat. With Redis the
service beats every `cluster.heartbeat` seconds, telling the others what it polls and how late,
and answers the API's questions: nodes, their devices, the leader, leases.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from genosd.app.core import AppCore
from genosd.cluster import Coordinator
from genosd.inventory import Device

log = logging.getLogger(__name__)


def picture(coordinator: Coordinator, devices: Iterable[Device]) -> dict[str, Any]:
    """The live nodes with the SNMP devices each owns, and how many devices no node polls: the
    daemon's API and `genosd cluster status` (which reads Redis without joining) show this."""
    members = coordinator.members()
    counts: dict[str, int] = {m.node: 0 for m in members}
    unowned = 0
    for device in devices:
        if device.snmp is None:
            continue
        owner = coordinator.owner(device.name, device.poller_group)
        if owner is None:
            unowned += 1
        else:
            counts[owner] = counts.get(owner, 0) + 1
    nodes = [
        {
            "node": m.node,
            "groups": list(m.groups),
            "devices": counts.get(m.node, 0),
            "self": m.node == coordinator.node,
            "api": m.info.get("api"),
            "lag_p99": m.info.get("lag_p99"),
            "last_beat": m.info.get("at"),
        }
        for m in members
    ]
    return {"leader": coordinator.describe()["leader"], "nodes": nodes, "unowned_devices": unowned}


class ClusterService:
    """Runs the heartbeat and describes the cluster; polls' lag is fed in by the poller."""

    def __init__(self, core: AppCore, coordinator: Coordinator):
        self.core = core
        self.coordinator = coordinator
        self.settings = core.settings.cluster  # as the coordinator was built (restart applies)
        self.lags: deque[float] = deque(maxlen=2000)  # start lag of this node's recent polls
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Join the cluster and keep beating (nothing to do for a single node)."""
        self._report()
        await self.coordinator.start()
        await self.core.work.start()
        if self.coordinator.distributed:
            self._task = asyncio.create_task(self._beat(), name="cluster-heartbeat")

    async def stop(self) -> None:
        """Stop beating and leave."""
        self._stopping = True  # besides cancelling: redis-py can swallow a cancellation
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=self.settings.heartbeat + 5)
            self._task = None
        await self.core.work.stop()
        await self.coordinator.stop()

    async def _beat(self) -> None:
        interval = self.settings.heartbeat
        while not self._stopping:
            await asyncio.sleep(interval)
            self._report()
            try:
                await self.coordinator.beat()
            except Exception:
                log.exception("cluster heartbeat failed")

    def _report(self) -> None:
        api = self.core.settings.api
        self.coordinator.report(
            {
                "api": f"{api.host}:{api.port}",
                "devices": self.owned_count(),
                "lag_p99": self.lag_p99(),
                "at": time.time(),
            }
        )

    def owned_count(self) -> int:
        """Inventory devices this node polls now."""
        owns = self.coordinator.owns
        return sum(
            1
            for d in self.core.inventory.devices.values()
            if d.snmp is not None and owns(d.name, d.poller_group)
        )

    def lag_p99(self) -> float | None:
        """How late this node's recent polls started after their slot (99th percentile, s)."""
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3)

    def owner_of(self, device: Device) -> str | None:
        """The node that polls `device` now."""
        return self.coordinator.owner(device.name, device.poller_group)

    def picture(self) -> dict[str, Any]:
        """Nodes (groups, devices, lag, when they last beat), the leader, unowned devices."""
        return {
            **self.coordinator.describe(),
            **picture(self.coordinator, self.core.inventory.devices.values()),
        }

    def devices(self, node: str | None = None) -> list[dict[str, str | None]]:
        """Each SNMP device with its poller group and owner (only `node`'s when given)."""
        rows: list[dict[str, str | None]] = []
        for device in sorted(self.core.inventory.devices.values(), key=lambda d: d.name):
            if device.snmp is None:
                continue
            owner = self.owner_of(device)
            if node is None or owner == node:
                rows.append({"device": device.name, "group": device.poller_group, "owner": owner})
        return rows


class ClusterCollector(Collector):
    """This node's cluster state at scrape time: active, leader, devices owned, claims refused."""

    def __init__(self, service: ClusterService, refused: Callable[[], int]):
        self.service = service
        self.refused = refused

    def collect(self) -> list[Metric]:
        """genosd_cluster_active, _leader, _devices_owned, _nodes, _claims_refused_total."""
        coordinator = self.service.coordinator
        return [
            GaugeMetricFamily(
                "genosd_cluster_active", "1 while this node may poll", int(coordinator.active)
            ),
            GaugeMetricFamily(
                "genosd_cluster_leader", "1 while this node leads", int(coordinator.is_leader())
            ),
            GaugeMetricFamily(
                "genosd_cluster_devices_owned",
                "SNMP devices this node polls now",
                self.service.owned_count(),
            ),
            GaugeMetricFamily("genosd_cluster_nodes", "Live nodes", len(coordinator.members())),
            CounterMetricFamily(
                "genosd_cluster_claims_refused",
                "Slots another node had claimed or polled when this one asked",
                self.refused(),
            ),
        ]
