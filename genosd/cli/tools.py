"""`genosd tools list|call`: the tool registry from the terminal, as the assistant and MCP see it
(calls audited as `cli:<user>`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from genosd.auth.keys import Role
from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    actor,
    fail,
    out,
    print_json,
    snapshot,
    with_core,
)

tools_app = typer.Typer(help="The tools of the assistant, agents and MCP", no_args_is_help=True)
RoleOption = Annotated[Role, typer.Option(help="call as this role")]


def _registry(core: Any) -> Any:
    from genosd.app.plugins import load_plugins
    from genosd.app.tool_catalog import registry

    return registry(core, load_plugins(core))


@tools_app.command("list")
def tools_list(
    config: ConfigOption = None, role: RoleOption = Role.admin, json_out: JsonOption = False
) -> None:
    """The tools a role may call (write tools marked)."""

    async def work(core: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": t.name,
                "owner": t.owner,
                "role": t.role.value,
                "writes": t.writes,
                "description": t.description,
                "parameters": t.args.model_json_schema(),
            }
            for t in _registry(core).available(role, writes=True)
        ]

    found = with_core(snapshot(config), work)
    if json_out:
        print_json(found)
        return
    table = Table("tool", "owner", "role", "writes", "description")
    for t in found:
        table.add_row(
            t["name"], t["owner"], t["role"], "yes" if t["writes"] else "", t["description"]
        )
    out().print(table)


@tools_app.command("call")
def tools_call(
    name: Annotated[str, typer.Argument(help="the tool")],
    arguments: Annotated[str, typer.Argument(help="its arguments as a JSON object")] = "{}",
    config: ConfigOption = None,
    role: RoleOption = Role.admin,
) -> None:
    """Call a tool (validated, capped, redacted, audited) and print what it gave (exit 1 when it
    failed)."""
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as exc:
        fail(f"the arguments are not JSON: {exc.msg}", 2)
    if not isinstance(parsed, dict):
        fail("the arguments must be a JSON object", 2)

    async def work(core: Any) -> Any:
        return await _registry(core).call(name, parsed, actor=actor(), role=role, agent="cli")

    result = with_core(snapshot(config), work)
    if not result.ok:
        fail(result.error or "failed")
    print(result.content)
