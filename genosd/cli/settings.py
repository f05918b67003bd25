"""`genosd settings export|import`: back up and restore settings without their secrets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from genosd import audit
from genosd.cli.common import ConfigOption, actor, console, fail, fail_config
from genosd.errors import ConfigError

settings_app = typer.Typer(
    help="Settings backup and restore (secrets stay out)", no_args_is_help=True
)


@settings_app.command("export")
def settings_export(
    config: ConfigOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Print the effective settings that differ from the defaults, without any secret."""
    from genosd.settings import load_settings
    from genosd.settings_io import render_export

    try:
        text = render_export(load_settings(config))
    except ConfigError as exc:
        fail_config(exc)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"settings exported to {output} (secrets left out)")


@settings_app.command("import")
def settings_import(
    source: Annotated[Path, typer.Argument(help="a file written by `genosd settings export`")],
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the diff, change nothing")
    ] = False,
) -> None:
    """Validate FILE, show the diff, then replace the settings file (secrets stay where they are)."""
    from genosd.settings import CONFIG_SEARCH_PATH, find_config_file, load_settings
    from genosd.settings_io import apply_import, plan_import
    from genosd.statedb import connect, state_db_path

    target = find_config_file(config) or CONFIG_SEARCH_PATH[0]
    try:
        plan = plan_import(source, target)
    except ConfigError as exc:
        fail_config(exc)
    if not plan.diff:
        console.print(f"{target} already has these settings; nothing to do")
        return
    sys.stdout.write(plan.diff)
    if dry_run:
        console.print("dry run: nothing written")
        return
    backup = apply_import(plan)
    try:
        settings = load_settings(target)
    except (
        ConfigError
    ) as exc:  # the plan validated; this is only reached if the file moved under us
        fail(f"written, but the result does not load: {exc}")
    db = connect(state_db_path(settings.state_dir))
    audit.record(
        db,
        actor=actor(),
        action="import_settings",
        target=f"file:{target}",
        diff_hash=plan.digest,
        details={
            "source": str(source),
            "backup": str(backup) if backup else None,
        },
    )
    console.print(
        f"wrote {target}"
        + (f" (previous kept as {backup})" if backup else "")
        + "; send SIGHUP (systemctl reload genosd) to apply"
    )
