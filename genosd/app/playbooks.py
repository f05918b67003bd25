"""Playbooks in the application: the actions plugins add, finding playbooks, checking and
running them (the engine: genosd.app.playbook_engine). The CLI runs a playbook to the end in its
process; the daemon runs it in the background and answers with the run's id at once. Both
record, audit and publish it the same way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genosd.app.core import AppCore
from genosd.app.playbook_engine import Tasks, begin_run, finish_run
from genosd.app.playbook_records import RunRecord, playbook_of
from genosd.app.plugins import load_plugins
from genosd.errors import NotFoundError
from genosd.playbooks.loader import collect_playbooks, load_playbook
from genosd.playbooks.model import BUILTIN_ACTIONS, Playbook
from genosd.pluginhost.manager import PluginHost


def plugin_tasks(host: PluginHost) -> Tasks:
    """The tasks the active plugins register: name -> (argument model, run)."""
    found: Tasks = {}
    for record in host.active:
        for task in record.contributions.tasks:
            if task.name not in BUILTIN_ACTIONS:
                found[task.name] = (task.args, task.run)
    return found


def _models(tasks: Tasks) -> dict[str, type[BaseModel]]:
    return {name: model for name, (model, _) in tasks.items()}


def check_playbook(core: AppCore, path: Path) -> Playbook:
    """One playbook file checked against the built-in actions and the plugins' tasks."""
    return load_playbook(path, _models(plugin_tasks(load_plugins(core))))


def available(core: AppCore, tasks: Tasks) -> tuple[dict[str, Playbook], list[str]]:
    """The playbooks of `playbooks_dir` by name, and the problems of the invalid files."""
    directory = core.settings.playbooks_dir
    if not directory.is_dir():
        return {}, []
    return collect_playbooks([directory], _models(tasks))


def find_playbook(core: AppCore, name_or_path: str, tasks: Tasks) -> Playbook:
    """A playbook file, or a playbook of `playbooks_dir` by name; NotFoundError if neither."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_playbook(path, _models(tasks))
    found, _ = available(core, tasks)
    if name_or_path in found:
        return found[name_or_path]
    raise NotFoundError(
        f"no playbook {name_or_path!r} (a file, or a name in {core.settings.playbooks_dir}/)"
    )


async def begin(
    core: AppCore,
    playbook: Playbook,
    tasks: Tasks,
    *,
    actor: str,
    variables: dict[str, Any] | None = None,
    check: bool = False,
) -> RunRecord:
    """Record and audit a run as started; InvalidRequestError (nothing recorded) if it cannot."""
    record = await begin_run(
        core, playbook, actor=actor, variables=variables, check=check, tasks=tasks
    )
    await core.audit(
        actor=actor,
        action="playbook_run",
        target=playbook.name,
        result="ok",
        details={"run": record.id, "check": check, "hosts": sum(map(len, record.batches))},
    )
    return record


class BackgroundRuns:
    """Runs the daemon goes on with in the background; cancelled at stop (recorded as
    interrupted, to be resumed)."""

    def __init__(self) -> None:
        self._tasks: dict[int, tuple[asyncio.Task[RunRecord], RunRecord]] = {}

    def start(self, core: AppCore, record: RunRecord, tasks: Tasks) -> None:
        """Go on with a begun or claimed run in the background."""
        assert record.id is not None
        task = asyncio.create_task(
            finish_run(core, playbook_of(record), record, tasks), name=f"playbook-run-{record.id}"
        )
        self._tasks[record.id] = (task, record)
        task.add_done_callback(lambda _: self._tasks.pop(record.id or 0, None))

    def running(self, playbook: str) -> bool:
        """Whether a run of `playbook` is in flight here."""
        return any(r.playbook == playbook for _, r in self._tasks.values())

    def cancel(self, run_id: int, actor: str) -> bool:
        """Ask a run in flight here to stop before its next step; False if it is not here."""
        if run_id not in self._tasks:
            return False
        self._tasks[run_id][1].cancelled_by = actor
        return True

    async def wait(self, run_id: int) -> RunRecord | None:
        """The run's record once its task ends (None if it is not here)."""
        found = self._tasks.get(run_id)
        if found is None:
            return None
        # waits without cancelling the run, and without swallowing the waiter's own cancel (a
        # scheduled job being removed must end, not sleep on to its next time)
        await asyncio.wait({found[0]})
        return found[1]

    async def stop(self) -> None:
        """Cancel every run in flight and wait for them to record it."""
        running = [task for task, _ in self._tasks.values()]
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def list_runs(db: sqlite3.Connection, playbook: str, limit: int) -> list[dict[str, Any]]:
    """A playbook's runs, newest first (without their per-step results)."""
    rows = db.execute(
        "SELECT id, actor, check_mode, started_at, finished_at, status FROM playbook_runs"
        " WHERE playbook = ? ORDER BY id DESC LIMIT ?",
        (playbook, limit),
    ).fetchall()
    keys = ("id", "actor", "check", "started_at", "finished_at", "status")
    return [dict(zip(keys, row, strict=True)) | {"check": bool(row[2])} for row in rows]


def get_run(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """One run with every step's per-host results; NotFoundError if there is none."""
    row = db.execute("SELECT id, data FROM playbook_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no playbook run {run_id}")
    return {**json.loads(row[1]), "id": row[0]}
