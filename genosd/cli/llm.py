"""`genosd llm models|usage`: what each task kind's models resolve to, and what they cost."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    out,
    print_json,
    snapshot,
    state_db,
    with_core,
)

llm_app = typer.Typer(help="The LLM layer: models per task kind, usage", no_args_is_help=True)


@llm_app.command("models")
def llm_models(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Each server's reachability and models, and what each task kind resolves to (exit 1 when
    a configured kind resolves to no model)."""
    from genosd.app.llm import resolved_models

    async def work(core: Any) -> dict[str, Any]:
        return await resolved_models(core.llm)

    found = with_core(snapshot(config), work)
    if json_out:
        print_json(found)
    else:
        if not found["configured"]:
            out().print("no LLM is configured (llm.url or llm.providers): AI features say so")
        for server in found["providers"]:
            state = f"{len(server['models'])} models" if server["reachable"] else server["error"]
            out().print(f"server {server['name']}: {state}")
        table = Table("kind", "configured", "resolves to", "left out")
        for kind, entry in found["kinds"].items():
            table.add_row(
                kind,
                ", ".join(_model(m) for m in entry["configured"]),
                ", ".join(_model(m) for m in entry["resolves_to"]) or "-",
                "; ".join(entry["left_out"]),
            )
        out().print(table)
    if found["configured"] and any(not e["resolves_to"] for e in found["kinds"].values()):
        raise typer.Exit(1)


def _model(entry: dict[str, Any]) -> str:
    return f"{entry['provider']}/{entry['model']}" if entry["provider"] else entry["model"]


@llm_app.command("usage")
def llm_usage(
    config: ConfigOption = None,
    hours: Annotated[float, typer.Option(help="the last N hours")] = 24.0,
    json_out: JsonOption = False,
) -> None:
    """Calls, tokens, latency, cache hits and failures by model and task kind."""
    from genosd.app.llm import usage_totals

    db = state_db(config)
    try:
        totals = usage_totals(db, time.time() - hours * 3600)
    finally:
        db.close()
    if json_out:
        print_json(totals)
        return
    table = Table(
        "provider", "model", "calls", "failures", "tokens in", "tokens out", "mean s", "cached"
    )
    for row in totals["by_model"]:
        table.add_row(
            row["provider"],
            row["model"],
            *(str(row[k]) for k in ("calls", "failures", "tokens_in", "tokens_out")),
            f"{row['mean_latency']:.3f}",
            str(row["cache_hits"]),
        )
    out().print(table)
    for failure in totals["recent_failures"][:5]:
        out().print(f"failed: {failure['model']} ({failure['kind']}): {failure['error']}")
