"""`GET /api/v1/topology`: the graph of devices and links from LLDP/CDP facts."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.app.topology import topology
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class NodeOut(BaseModel):
    """A device (or a neighbour outside the inventory: `external`)."""

    name: str
    platform: str | None
    site: str | None
    status: str
    external: bool


class LinkOut(BaseModel):
    """A link between two interfaces, its state and which ends reported it."""

    a: str
    a_interface: str
    b: str
    b_interface: str
    state: str
    seen_from: list[str]


class TopologyOut(BaseModel):
    """Nodes, links, and the devices whose facts were never collected."""

    nodes: list[NodeOut]
    links: list[LinkOut]
    devices_without_facts: list[str]


@routes.route("GET", "/api/v1/topology", tag="devices", role=Role.viewer, response=TopologyOut)
async def get_topology(request: web.Request) -> TopologyOut:
    """Devices and the links between them, from their newest LLDP/CDP facts."""
    return TopologyOut.model_validate(await topology(runtime_of(request).core))
