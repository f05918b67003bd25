"""`genosd keys create|list|revoke`: API keys, straight on the state database.

Whoever can run these on the daemon's host can read its state directory anyway, so the CLI is how
the first admin key is made. Every change is written to the audit log with the local user as actor.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from genosd.auth.keys import ApiKey, Role, create_key, list_keys, revoke_key
from genosd.cli.common import (
    ConfigOption,
    JsonOption,
    actor,
    console,
    fail,
    out,
    state_db,
)
from genosd.errors import GenosdError

keys_app = typer.Typer(help="API keys (roles viewer < operator < admin)", no_args_is_help=True)


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
    db = state_db(config)
    name = name or f"{getpass.getuser()}-{role.value}"
    try:
        new = create_key(
            db,
            name=name,
            role=role,
            created_by=actor(),
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
    keys = list_keys(state_db(config), include_inactive=all_keys)
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
    out().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="key id or prefix")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key; the daemon refuses it from the next request on."""
    db = state_db(config)
    try:
        revoked = revoke_key(db, key, actor=actor())
    except GenosdError as exc:
        fail(str(exc))
    console.print(f"revoked key {revoked.prefix} ({revoked.name})")
