"""`genosd playbook check|schema`: playbook files checked before they are committed or run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    console,
    out,
    print_json,
    snapshot,
    with_core,
)
from genosd.errors import EX_CONFIG
from genosd.playbooks.loader import PlaybookError, schema

playbook_app = typer.Typer(help="Playbooks: YAML workflows over devices", no_args_is_help=True)


@playbook_app.command("check")
def playbook_check(
    files: Annotated[list[Path], typer.Argument(help="playbook files")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check playbook files (format, actions, expressions, references); exit 78 if one is bad."""
    from genosd.app.playbooks import check_playbook

    snap = snapshot(config)

    async def check(core: Any) -> list[dict[str, Any]]:
        results = []
        for path in files:
            try:
                playbook = check_playbook(core, path)
            except PlaybookError as exc:
                results.append(
                    {"file": str(path), "ok": False, "problems": exc.problems or [str(exc)]}
                )
                continue
            results.append(
                {
                    "file": str(path),
                    "ok": True,
                    "name": playbook.name,
                    "steps": len(playbook.steps),
                    "schedule": playbook.schedule.cron if playbook.schedule else None,
                }
            )
        return results

    results = with_core(snap, check)
    if json_out:
        print_json(results)
    else:
        for result in results:
            if result["ok"]:
                out().print(f"{result['file']}: ok ({result['name']}, {result['steps']} steps)")
            else:
                console.print(f"[red]{result['file']}: invalid[/red]", markup=True)
                for problem in result["problems"]:
                    console.print(f"  - {problem}", markup=False)
    if not all(r["ok"] for r in results):
        raise typer.Exit(EX_CONFIG)


@playbook_app.command("schema")
def playbook_schema() -> None:
    """The playbook format as JSON Schema (for editors: yaml-language-server)."""
    print(json.dumps(schema(), indent=2))
