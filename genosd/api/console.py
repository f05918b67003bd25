"""The web console: static files in the package, served at `/` (no build step). The page talks to
the API like any client, with the key the user typed; these routes need no key and serve no data."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
# the page may load only its own files and talk only to its own origin (the API, its WebSockets)
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


async def index(request: web.Request) -> web.FileResponse:
    """The console's page."""
    return web.FileResponse(CONSOLE_DIR / "index.html")


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/" or request.path.startswith("/console/"):
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"


def install_console(app: web.Application) -> None:
    """Serve the console at / and its files under /console/."""
    app.router.add_get("/", index)
    app.router.add_static("/console/", CONSOLE_DIR, show_index=False, follow_symlinks=False)
    app.on_response_prepare.append(_secure)
