"""Running a playbook: batches of hosts, steps in order, per-host results, failure limits.

Each step runs over the batch's remaining hosts at once (one Nornir run for SSH actions, as the
daemon's backups do), and yields a result per host: ok, changed, failed or skipped, with the
action's data, which `register` keeps for later steps' conditions and templates. Retries re-run
only the hosts that failed. A host that fails a step stops there (`on_failure: abort`) or goes
on (`continue`) or has what the run deployed on it undone (`rollback`); a batch with more failed
hosts than `rollout.max_failures` stops the run, no later batch starts, and with
`rollout.rollback_batch` what the run deployed on that batch is undone. In a check run
(`--check`) plans record nothing, gates do not wait and deploys only report their diffs.

At an approval gate the run is saved as `waiting_approval` and this coroutine returns; an
approval (genosd.app.playbook_gates) claims the run and calls `finish_run` again, which goes on
from the record's cursor: that is how a paused run survives a restart. A run cancelled (the
daemon stopping, or a user) is recorded as `interrupted` or `cancelled` with where it stopped.

A playbook that names a plugin task no loaded plugin provides is refused before anything runs.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel

from genosd.app.core import AppCore
from genosd.app.playbook_records import Cursor, RunRecord, save_run, where
from genosd.app.playbook_steps import RUNNABLE, BatchRunner, PluginRun, RunCancelled
from genosd.errors import InvalidRequestError
from genosd.inventory import Device
from genosd.playbooks.model import Playbook, Step
from genosd.typedvars import coerce


def unsupported(steps: Sequence[Step], tasks: dict[str, Any]) -> list[str]:
    """Actions of `steps` neither built in nor provided by an active plugin."""
    found: list[str] = []
    for step in steps:
        if step.block is not None:
            found += unsupported([*step.block, *(step.always or [])], tasks)
        elif step.action is not None and step.action not in RUNNABLE | set(tasks):
            found.append(step.action)
    return sorted(set(found))


def coerce_variables(playbook: Playbook, given: dict[str, Any]) -> dict[str, Any]:
    """The run's variables: given values typed as declared, defaults, required ones present."""
    values, problems = coerce(playbook.variables, given)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return values


def select_targets(core: AppCore, playbook: Playbook) -> list[Device]:
    """The inventory devices the playbook's targets name, by name."""
    chosen = []
    for device in core.inventory.select():
        fields = {
            "name": [device.name],
            "group": list(device.groups),
            "tag": list(device.tags),
            "platform": [device.platform or ""],
            "site": [device.site or ""],
            "role": [device.role or ""],
        }
        ok = True
        for key, wanted in playbook.targets.items():
            options = wanted if isinstance(wanted, list) else [wanted]
            have = [str(device.data.get(key[5:], ""))] if key.startswith("data.") else fields[key]
            if not set(options) & set(have):
                ok = False
                break
        if ok:
            chosen.append(device)
    return chosen


def split_batches(names: list[str], sizes: Sequence[int | str]) -> list[list[str]]:
    """Batches as `rollout.batches` says: counts or percentages of all targets, the last repeating."""
    batches: list[list[str]] = []
    at, which = 0, 0
    while at < len(names):
        size = sizes[min(which, len(sizes) - 1)]
        count = (
            max(1, math.ceil(len(names) * int(size[:-1]) / 100)) if isinstance(size, str) else size
        )
        batches.append(names[at : at + count])
        at += count
        which += 1
    return batches


def _limit(value: int | str, of: int) -> int:
    return math.floor(of * int(value[:-1]) / 100) if isinstance(value, str) else value


Tasks = dict[str, tuple[type[BaseModel], PluginRun]]


async def begin_run(
    core: AppCore,
    playbook: Playbook,
    *,
    actor: str,
    variables: dict[str, Any] | None = None,
    check: bool = False,
    tasks: Tasks | None = None,
) -> RunRecord:
    """Check what a run needs and record it as started (with its id); InvalidRequestError, and
    nothing recorded, for what cannot run."""
    missing = unsupported(playbook.steps, tasks or {})
    if missing:
        raise InvalidRequestError(
            f"playbook {playbook.name!r} uses actions no active plugin provides: {', '.join(missing)}"
        )
    values = coerce_variables(playbook, variables or {})
    names = [d.name for d in select_targets(core, playbook)]
    record = RunRecord(
        playbook.name, actor, check, values, split_batches(names, playbook.rollout.batches)
    )
    record.definition = playbook.model_dump(mode="json", by_alias=True, exclude_unset=True)
    record.id = await core.db.run(save_run, record)
    _publish(core, record, "started")
    return record


async def finish_run(
    core: AppCore, playbook: Playbook, record: RunRecord, tasks: Tasks | None = None
) -> RunRecord:
    """Run a begun (or claimed) run from its cursor until it ends or waits at a gate."""
    by_name = {d.name: d for d in core.inventory.select()}
    run = BatchRunner(core, playbook, record, tasks or {})
    rollout = playbook.rollout
    try:
        for number in range(record.cursor.batch, len(record.batches)):
            batch = record.batches[number]
            devices = [by_name[n] for n in batch if n in by_name]  # a reload may drop devices
            if await run.batch(number, devices):
                record.status = "waiting_approval"
                return record
            failed = run.failed
            record.failed_hosts += sorted(failed)
            _publish(core, record, "batch_finished", batch=number, failed=sorted(failed))
            record.stopped_because = _stop_reason(
                playbook, number, len(batch), len(failed), len(record.failed_hosts), run.stop
            )
            if record.stopped_because:
                if rollout.rollback_batch:
                    await run.rollback(devices, number, "the batch stopped the run")
                break
            record.cursor = Cursor(batch=number + 1)
            if rollout.pause and number + 1 < len(record.batches):
                await run.sleep(rollout.pause)
        record.status = (
            "stopped" if record.stopped_because else "partial" if record.failed_hosts else "ok"
        )
    except RunCancelled:
        record.status = "cancelled"
        record.stopped_because = f"cancelled by {record.cancelled_by} at {where(record)}"
    except asyncio.CancelledError:
        record.status = "interrupted"
        record.stopped_because = f"interrupted at {where(record)}"
        raise
    finally:
        if record.status != "waiting_approval":
            record.finished_at = time.time()
        await asyncio.shield(core.db.run(save_run, record))
        gate = record.gate
        if gate is not None:
            _publish(core, record, "waiting_approval", gate=asdict(gate))
        else:
            _publish(core, record, "finished")
    return record


def _stop_reason(
    playbook: Playbook, number: int, size: int, failed: int, failed_total: int, stop: bool
) -> str | None:
    rollout = playbook.rollout
    if failed > _limit(rollout.max_failures, size):
        return f"batch {number + 1}: {failed} of {size} hosts failed (max_failures {rollout.max_failures})"
    if rollout.max_failures_total is not None and failed_total > rollout.max_failures_total:
        return f"{failed_total} hosts failed (max_failures_total {rollout.max_failures_total})"
    if stop:
        return "a host failed (stop_on_first_failure)"
    return None


def _publish(core: AppCore, record: RunRecord, status: str, **extra: Any) -> None:
    core.events.publish(
        "run",
        {
            "kind": "playbook",
            "status": status,
            "run": record.id,
            "playbook": record.playbook,
            "check": record.check,
            "actor": record.actor,
            "result": record.status,
            "stopped_because": record.stopped_because,
            **extra,
        },
    )
