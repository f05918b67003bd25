"""The plugin's HTTP routes, declared with the same endpoint table as the core's."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from genosd.plugin import Api, Role
from plugins.flapdetect.detector import Flap, FlapDetector


class FlapsQuery(BaseModel):
    """Filters of GET /flaps."""

    model_config = ConfigDict(extra="forbid")

    device: str | None = None


class FlapList(BaseModel):
    """Interfaces flapping now."""

    items: list[Flap]
    total: int


def flap_routes(detector: FlapDetector) -> Api:
    """GET /flaps (viewer), bound to this detector."""
    api = Api("flapdetect", "1")

    @api.route(
        "GET", "/flaps", tag="flapdetect", role=Role.viewer, query=FlapsQuery, response=FlapList
    )
    async def list_flaps(request: web.Request, query: FlapsQuery) -> FlapList:
        """Interfaces that changed state at least `threshold` times within the window."""
        items = detector.flapping(query.device)
        return FlapList(items=items, total=len(items))

    return api
