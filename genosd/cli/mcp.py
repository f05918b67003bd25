"""`genosd mcp`: genosd's tools for an MCP client (an IDE, a desktop assistant) over stdio."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer

from genosd.auth.keys import Role
from genosd.cli.common import ConfigOption, snapshot


def mcp(
    config: ConfigOption = None,
    role: Annotated[
        Role, typer.Option(help="what the client may do (viewer: read-only)")
    ] = Role.viewer,
) -> None:
    """Serve genosd's tools (and the plugins') over MCP on stdin/stdout; every call audited."""
    from mcp.server.stdio import stdio_server

    from genosd.api.mcp import mcp_server
    from genosd.app.core import tool_core
    from genosd.app.plugins import load_plugins
    from genosd.app.tool_catalog import registry

    snap = snapshot(config)

    async def main() -> None:
        async with tool_core(snap) as core:
            host = load_plugins(core)
            actor = f"mcp:{getpass.getuser()}"
            server = mcp_server(lambda: registry(core, host), lambda ctx: (actor, role))
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())

    asyncio.run(main())
