"""Serve an ASGI application (the MCP SDK's Streamable HTTP transport) from an aiohttp handler.

One request in, one response out: the body is read whole (the API's body cap applies), the ASGI
app's response is streamed back as it sends it (JSON or server-sent events). `extra` goes into the
ASGI scope, which is how the authenticated caller reaches the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
AsgiApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


async def serve_asgi(
    request: web.Request, app: AsgiApp, extra: dict[str, Any]
) -> web.StreamResponse:
    """`app`'s answer to `request`."""
    body = await request.read()
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    server = (sockname[0], sockname[1]) if sockname else ("127.0.0.1", 0)
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.split("?")[0].encode(),
        "query_string": request.query_string.encode(),
        "root_path": "",
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
        ],
        "client": (request.remote or "", 0),
        "server": server,
        "state": {},
        **extra,
    }
    delivered = False
    finished = asyncio.Event()
    response: web.StreamResponse | None = None

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            headers = CIMultiDict(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            )
            headers.popall("content-length", None)  # aiohttp frames the body itself
            response = web.StreamResponse(status=message["status"], headers=headers)
            await response.prepare(request)
        elif message["type"] == "http.response.body" and response is not None:
            await response.write(message.get("body", b""))
            if not message.get("more_body", False):
                await response.write_eof()
                finished.set()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    if response is None:
        raise web.HTTPInternalServerError(text="the application sent no response")
    return response
