"""Playbooks in the application: the actions plugins add, finding playbooks, checking and
running them (the engine: genosd.app.playbook_engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genosd.app.core import AppCore
from genosd.app.playbook_engine import run_playbook
from genosd.app.playbook_records import RunRecord
from genosd.app.playbook_steps import PluginRun
from genosd.app.plugins import load_plugins
from genosd.errors import NotFoundError
from genosd.playbooks.loader import load_playbook, load_playbooks
from genosd.playbooks.model import BUILTIN_ACTIONS, Playbook


def plugin_tasks(core: AppCore) -> dict[str, tuple[type[BaseModel], PluginRun]]:
    """The tasks the configured plugins register: name -> (argument model, run)."""
    host = load_plugins(core)
    found: dict[str, tuple[type[BaseModel], PluginRun]] = {}
    for record in host.active:
        for task in record.contributions.tasks:
            if task.name not in BUILTIN_ACTIONS:
                found[task.name] = (task.args, task.run)
    return found


def check_playbook(core: AppCore, path: Path) -> Playbook:
    """One playbook file checked against the built-in actions and the plugins' tasks."""
    return load_playbook(path, {name: model for name, (model, _) in plugin_tasks(core).items()})


def find_playbook(core: AppCore, name_or_path: str) -> Playbook:
    """A playbook file, or a playbook of `playbooks_dir` by name; NotFoundError if neither."""
    models = {name: model for name, (model, _) in plugin_tasks(core).items()}
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_playbook(path, models)
    directory = core.settings.playbooks_dir
    if directory.is_dir():
        found = load_playbooks([directory], models)
        if name_or_path in found:
            return found[name_or_path]
    raise NotFoundError(f"no playbook {name_or_path!r} (a file, or a name in {directory}/)")


async def start_run(
    core: AppCore,
    playbook: Playbook,
    *,
    actor: str,
    variables: dict[str, Any] | None = None,
    check: bool = False,
) -> RunRecord:
    """Run a playbook with the plugins' tasks available (audited)."""
    record = await run_playbook(
        core,
        playbook,
        actor=actor,
        variables=variables,
        check=check,
        tasks=plugin_tasks(core),
    )
    await core.audit(
        actor=actor,
        action="playbook_run",
        target=playbook.name,
        result="ok" if record.status == "ok" else "failed",
        details={
            "run": record.id,
            "status": record.status,
            "check": check,
            "failed_hosts": record.failed_hosts,
            "stopped_because": record.stopped_because,
        },
    )
    return record
