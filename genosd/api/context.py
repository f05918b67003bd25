"""What the HTTP handlers share: the runtime under one typed key, and the caller's identity."""

from __future__ import annotations

from aiohttp import web

from genosd.app.runtime import Runtime
from genosd.endpoints import PRINCIPAL

RUNTIME = web.AppKey("runtime", Runtime)
WEBSOCKETS = web.AppKey("websockets", set[web.WebSocketResponse])
SPEC = web.AppKey("openapi", dict)


def runtime_of(request: web.Request) -> Runtime:
    """The daemon's runtime (from sub-apps too: plugin routes)."""
    return request.config_dict[RUNTIME]


def actor_of(request: web.Request) -> str:
    """Who is calling: the API key's principal."""
    return request[PRINCIPAL].principal
