"""`genosd keys …` and `genosd audit …`: API keys and the audit log, straight on the state database.

Whoever can run these on the daemon's host can read its state directory anyway, so the CLI is how
the first admin key is made. Every change is written to the audit log with the local user as actor.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from genosd import audit
from genosd.auth.keys import ApiKey, Role, create_key, list_keys, revoke_key
from genosd.cli_options import ConfigOption, JsonOption, console, fail, fail_config
from genosd.errors import ConfigError, GenosdError

keys_app = typer.Typer(help="API keys (roles viewer < operator < admin)", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log", no_args_is_help=True)


def _state_db(config: ConfigOption) -> sqlite3.Connection:
    from genosd.settings import load_settings
    from genosd.statedb import connect, state_db_path

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail_config(exc)
    return connect(state_db_path(settings.state_dir))


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _key_dict(key: ApiKey) -> dict[str, object]:
    return key.model_dump(mode="json")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option("--role", help="viewer, operator or admin")],
    name: Annotated[str, typer.Option("--name", help="who or what uses the key")] = "",
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="expire after N days")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an API key; the secret is printed once and never stored."""
    db = _state_db(config)
    name = name or f"{getpass.getuser()}-{role.value}"
    try:
        new = create_key(
            db,
            name=name,
            role=role,
            created_by=_actor(),
            expires_in=expires_days * 86400 if expires_days else None,
        )
    except GenosdError as exc:
        fail(str(exc))
    if json_out:
        print(json.dumps({**_key_dict(new.key), "secret": new.secret}))
        return
    console.print(
        f"created {role.value} key {new.key.prefix} ({name}); it is shown once, store it now:"
    )
    print(new.secret)


@keys_app.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="include revoked and expired")] = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """List API keys (never their secrets)."""
    keys = list_keys(_state_db(config), include_inactive=all_keys)
    if json_out:
        print(json.dumps([_key_dict(k) for k in keys]))
        return
    table = Table("id", "prefix", "name", "role", "created", "expires", "last used", "state")
    for k in keys:
        state = "active" if k.active else ("revoked" if k.revoked_at else "expired")
        table.add_row(
            str(k.id),
            k.prefix,
            k.name,
            k.role.value,
            _when(k.created_at),
            _when(k.expires_at),
            _when(k.last_used_at),
            state,
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="key id or prefix")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key; the daemon refuses it from the next request on."""
    db = _state_db(config)
    try:
        revoked = revoke_key(db, key, actor=_actor())
    except GenosdError as exc:
        fail(str(exc))
    console.print(f"revoked key {revoked.prefix} ({revoked.name})")


@audit_app.command("export")
def audit_export(
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    since_hours: Annotated[
        float | None, typer.Option("--since-hours", help="only the last N hours")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    action: Annotated[str | None, typer.Option("--action")] = None,
    config: ConfigOption = None,
) -> None:
    """Write the audit log (oldest first) to stdout as JSON or CSV."""
    if fmt not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    since = time.time() - since_hours * 3600 if since_hours else None
    query = audit.AuditQuery(actor=actor, action=action, since=since)
    output_format: Literal["json", "csv"] = "csv" if fmt == "csv" else "json"
    sys.stdout.write(audit.export(_state_db(config), query, output_format))


@audit_app.command("verify")
def audit_verify(config: ConfigOption = None) -> None:
    """Check the hash chain of the audit log; exit 1 naming the first entry that does not match."""
    broken = audit.verify_chain(_state_db(config))
    if broken is not None:
        fail(f"audit log chain broken at entry {broken}: it was edited or rows were removed")
    console.print("audit log chain intact")
