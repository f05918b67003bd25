"""`GET /api/v1/cluster`: the nodes sharing the work, their devices and lag, the leader, leases."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import Strict
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class ClusterNodeOut(BaseModel):
    """A live node as this node sees it."""

    node: str
    groups: list[str]
    devices: int = Field(description="SNMP devices it owns now (rendezvous hashing)")
    self: bool = Field(description="the node answering this request")
    api: str | None
    lag_p99: float | None = Field(description="seconds its recent polls started after their slot")
    last_beat: float | None = Field(description="Unix seconds of its last heartbeat's report")


class LeaseOut(BaseModel):
    """A held lease: deploys hold `device:<name>`."""

    name: str
    holder: str
    expires_in: float = Field(description="seconds until it expires unless its holder renews it")


class ClusterOut(BaseModel):
    """The coordination backend and the nodes (a single node: backend `local`)."""

    backend: str
    node: str
    leader: str | None
    connected: bool
    active: bool = True
    error: str | None = None
    heartbeat: float | None = None
    node_ttl: float | None = None
    nodes: list[ClusterNodeOut]
    unowned_devices: int = Field(description="devices of poller groups no live node polls")
    leases: list[LeaseOut] = Field(description="held leases (at most 1000)")


class ClusterDevicesQuery(Strict):
    """Whose devices to list."""

    node: str | None = Field(None, max_length=64)


class ClusterDeviceOut(BaseModel):
    """A device, its poller group and the node polling it (null: no node polls its group)."""

    device: str
    group: str
    owner: str | None


class ClusterDevices(BaseModel):
    """Devices by name."""

    items: list[ClusterDeviceOut]


@routes.route("GET", "/api/v1/cluster", tag="system", role=Role.viewer, response=ClusterOut)
async def get_cluster(request: web.Request) -> ClusterOut:
    """The nodes sharing the polling and jobs, the leader, devices no node polls, leases."""
    cluster = runtime_of(request).cluster
    leases = await cluster.coordinator.leases()
    return ClusterOut.model_validate({**cluster.picture(), "leases": leases})


@routes.route(
    "GET",
    "/api/v1/cluster/devices",
    tag="system",
    role=Role.viewer,
    query=ClusterDevicesQuery,
    response=ClusterDevices,
)
async def get_cluster_devices(request: web.Request, query: ClusterDevicesQuery) -> ClusterDevices:
    """Which node polls each device (one node's devices with `node`)."""
    rows = runtime_of(request).cluster.devices(query.node)
    return ClusterDevices(items=[ClusterDeviceOut.model_validate(row) for row in rows])
