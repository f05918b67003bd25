"""Running a playbook's steps over one batch of hosts: conditions, loops, retries, timeouts,
registered results, approval gates, and the built-in actions (poll, backup, facts, show, assert,
wait, notify; the device-changing ones in genosd.app.playbook_changes) plus plugin tasks. Each
action runs over the batch's hosts at once and returns a result per host.

The batch's place (next top-level step, hosts still going, hosts failed) is the record's cursor,
saved after every top-level step: a run parked at a gate or interrupted goes on from there with
the registered results it had.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from genosd.app.command_history import recorded
from genosd.app.core import AppCore
from genosd.app.playbook_actions import PluginRun, ReadActions
from genosd.app.playbook_changes import ChangeActions
from genosd.app.playbook_records import (
    Gate,
    HostResult,
    RunRecord,
    StepRun,
    cancel_requested,
    save_run,
)
from genosd.app.playbook_spread import spread, spreads
from genosd.inventory import Device
from genosd.playbooks.expressions import expression as expression_of
from genosd.playbooks.expressions import template
from genosd.playbooks.model import BUILTIN_ACTIONS, Playbook, Step
from genosd.ssh.nornir import KeptSessions

RUNNABLE = frozenset(BUILTIN_ACTIONS)  # every built-in action has its _do_ handler


class RunCancelled(BaseException):
    """Someone cancelled the run; it stops before its next step."""


def _host_context(device: Device) -> dict[str, Any]:
    return {
        "name": device.name,
        "hostname": device.hostname,
        "platform": device.platform,
        "groups": list(device.groups),
        "tags": list(device.tags),
        "site": device.site,
        "role": device.role,
        "data": dict(device.data),
    }


class BatchRunner(ChangeActions, ReadActions):
    """Runs the playbook's steps over one batch at a time, keeping each host's variables."""

    def __init__(
        self,
        core: AppCore,
        playbook: Playbook,
        record: RunRecord,
        tasks: dict[str, tuple[type[BaseModel], PluginRun]],
    ):
        self.core, self.playbook, self.record, self.tasks = core, playbook, record, tasks
        self.contexts: dict[str, dict[str, Any]] = {}
        self.stop = False
        self.failed: set[str] = set()
        self.kept: KeptSessions | None = None  # the batch's SSH sessions, open across steps

    async def batch(self, number: int, devices: list[Device]) -> bool:
        """Run (or go on with) batch `number`; True when it stopped at an approval gate."""
        self._contexts(number, devices)
        cursor, names = self.record.cursor, {d.name for d in devices}
        if cursor.batch != number or cursor.active is None:
            cursor.batch, cursor.step, cursor.active, cursor.failed = number, 0, sorted(names), []
        active, failed = set(cursor.active) & names, set(cursor.failed)
        self.failed = failed
        ssh = self.core.settings.ssh
        self.kept = KeptSessions(
            [d.ssh for d in devices if d.ssh is not None],
            self.core.known_hosts.path,
            ssh.concurrency,
        )
        ref = None if self.record.id is None else f"run {self.record.id}"
        try:
            with recorded(self.core, self.record.actor, f"playbook {self.playbook.name}", ref):
                return await self._batch_steps(number, devices, active, failed)
        finally:
            # closing waits for any session still busy (a command a timeout gave up on): in the
            # background, so the run goes on
            threading.Thread(target=self.kept.close, name="playbook-sessions", daemon=True).start()

    async def _batch_steps(
        self, number: int, devices: list[Device], active: set[str], failed: set[str]
    ) -> bool:
        cursor = self.record.cursor
        for index in range(cursor.step, len(self.playbook.steps)):
            if self.stop:
                break
            await self.poll_cancel()
            step = self.playbook.steps[index]
            if step.action == "approval":
                if not self._gate(step, number, index, devices, active):
                    cursor.step, cursor.active, cursor.failed = (
                        index,
                        sorted(active),
                        sorted(failed),
                    )
                    return True
            else:
                await self.steps([step], number, devices, active, failed, index)
            cursor.step, cursor.active, cursor.failed = index + 1, sorted(active), sorted(failed)
            await self.core.db.run(save_run, self.record)
        return False

    def _step_event(self, result: StepRun) -> None:
        """A `run` event per finished step: live progress for the web console and the CLI."""
        counts: dict[str, int] = {}
        for outcome in result.hosts.values():
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        self.core.events.publish(
            "run",
            {
                "kind": "playbook",
                "status": "step_finished",
                "run": self.record.id,
                "playbook": self.playbook.name,
                "batch": result.batch,
                "step": result.step,
                "index": result.index,
                "hosts": counts,
                "failed": sorted(h for h, r in result.hosts.items() if r.status == "failed"),
            },
        )

    def check_cancelled(self) -> None:
        """RunCancelled when someone cancelled the run."""
        if self.record.cancelled_by:
            raise RunCancelled(self.record.cancelled_by)

    async def poll_cancel(self) -> None:
        """RunCancelled when someone cancelled the run, here or through the state database."""
        if not self.record.cancelled_by and self.record.id is not None:
            self.record.cancelled_by = await self.core.db.run(cancel_requested, self.record.id)
        self.check_cancelled()

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early to stop when the run is cancelled."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.5))
            await self.poll_cancel()

    def _contexts(self, number: int, devices: list[Device]) -> None:
        """Each host's variables, with what earlier steps of this batch registered (a resumed
        run gets them back from its record)."""
        run = {
            "check": self.record.check,
            "actor": self.record.actor,
            "playbook": self.playbook.name,
            "id": self.record.id,
        }
        for device in devices:
            self.contexts[device.name] = {
                **self.record.variables,
                "host": _host_context(device),
                "run": run,
            }
        for done in self.record.steps:
            if done.batch == number and done.register is not None:
                for name, outcome in done.hosts.items():
                    if name in self.contexts:
                        self.contexts[name][done.register] = outcome.registered()

    def _gate(
        self, step: Step, number: int, index: int, devices: list[Device], active: set[str]
    ) -> bool:
        """Pass an approval gate (decided, nothing to approve, or a check run) or open it;
        whether the batch goes on now."""
        result = StepRun(number, step.label, "approval", index=index)
        hosts = []
        for device in devices:
            if device.name not in active:
                continue
            if step.when is not None and not self._truth(step.when, device.name):
                result.hosts[device.name] = HostResult("skipped")
            else:
                hosts.append(device.name)
        decided = next(
            (g for g in self.record.gates if (g.batch, g.step) == (number, index) and g.decision),
            None,
        )
        pending = [
            {"device": h, **self.record.changes[h]["pending"]}
            for h in hosts
            if self.record.changes.get(h, {}).get("pending")
        ]
        wanted = pending or not step.args.get("only_with_changes", True)
        if decided is None and hosts and not self.record.check and wanted:
            self._open_gate(step, number, index, hosts[0], pending)
            return False
        data: dict[str, Any]
        if decided is not None:
            data = {"approved_by": decided.decided_by}
        elif self.record.check:
            data = {"would_wait_for": step.args.get("role", "operator")}
        else:
            data = {"nothing_to_approve": True}
        for host in hosts:
            result.hosts[host] = HostResult("ok", data)
        self.record.steps.append(result)
        self._step_event(result)
        return True

    def _open_gate(
        self, step: Step, number: int, index: int, host: str, pending: list[dict[str, Any]]
    ) -> None:
        now = time.time()
        pending = sorted(pending, key=lambda p: p["device"])
        bound = [[p["device"], p["change"], p["sha256"]] for p in pending]
        self.record.gates.append(
            Gate(
                batch=number,
                step=index,
                message=self._render(step.args.get("message", "approve"), host),
                role=step.args.get("role", "operator"),
                opened_at=now,
                expires_at=now + float(step.args.get("timeout", 86400.0)),
                sha256=hashlib.sha256(json.dumps(bound).encode()).hexdigest(),
                changes=pending,
            )
        )

    async def steps(
        self,
        steps: Sequence[Step],
        batch: int,
        devices: list[Device],
        active: set[str],
        failed: set[str],
        index: int = 0,
    ) -> None:
        for step in steps:
            if self.stop:
                return
            self.check_cancelled()
            if step.block is not None:
                await self._group(step, batch, devices, active, failed, index)
                continue
            hosts = [d for d in devices if d.name in active]
            result = StepRun(batch, step.label, step.action, index=index, register=step.save_as)
            runnable = []
            for device in hosts:
                if step.when is not None and not self._truth(step.when, device.name):
                    result.hosts[device.name] = HostResult("skipped")
                else:
                    runnable.append(device)
            result.hosts.update(await self._with_retries(step, runnable))
            result.duration = round(time.time() - result.started_at, 3)
            self.record.steps.append(result)
            self._step_event(result)
            undo = []
            for name, outcome in result.hosts.items():
                if step.save_as is not None:
                    self.contexts[name][step.save_as] = outcome.registered()
                if outcome.status == "failed":
                    failed.add(name)
                    if step.on_failure != "continue":
                        active.discard(name)
                    if step.on_failure == "rollback":
                        undo.append(name)
                    if self.playbook.rollout.stop_on_first_failure:
                        self.stop = True
            if undo:
                await self.rollback(
                    [d for d in devices if d.name in undo], batch, f"{step.label} failed"
                )

    def _truth(self, expression: str, host: str, item: Any = None) -> bool:
        context = self.contexts[host] if item is None else {**self.contexts[host], "item": item}
        return bool(expression_of(expression)(**context))

    def _render(self, text: str, host: str, item: Any = None) -> str:
        context = self.contexts[host] if item is None else {**self.contexts[host], "item": item}
        return template(text).render(**context)

    async def _group(
        self,
        step: Step,
        batch: int,
        devices: list[Device],
        active: set[str],
        failed: set[str],
        index: int,
    ) -> None:
        """A block: its steps in order, then again for the hosts that failed in it (`retries`,
        only those), then `always` for every host that entered; the block's `on_failure`
        decides what a host that failed in it does next."""
        assert step.block is not None
        entered = {name for name in active if step.when is None or self._truth(step.when, name)}
        pending, still_failed = set(entered), set[str]()
        for attempt in range(step.retries + 1):
            going, failing = set(pending), set[str]()
            await self.steps(step.block, batch, devices, going, failing, index)
            still_failed = (still_failed - pending) | failing
            if not failing or attempt == step.retries:
                break
            await self.sleep(step.delay)
            pending = failing
        failed |= still_failed
        if step.on_failure != "continue":
            active -= still_failed
        if step.on_failure == "rollback" and still_failed:
            undo = [d for d in devices if d.name in still_failed]
            await self.rollback(undo, batch, f"{step.label} failed")
        if step.always:
            await self.steps(step.always, batch, devices, set(entered), failed, index)

    async def _with_retries(self, step: Step, devices: list[Device]) -> dict[str, HostResult]:
        """The step, again for the hosts that failed (or whose `until` is still false), up to
        `retries` more times, `delay` seconds apart."""
        results: dict[str, HostResult] = {}
        pending = list(devices)
        for attempt in range(1, step.retries + 2):
            outcome = await self._here_or_spread(step, pending)
            for name, result in outcome.items():
                result.attempts = attempt
                results[name] = self._until(step, name, result)
            pending = [d for d in pending if results[d.name].status == "failed"]
            if not pending or attempt > step.retries:
                break
            await self.sleep(step.delay)
        return results

    async def _here_or_spread(self, step: Step, devices: list[Device]) -> dict[str, HostResult]:
        """The step over `devices`, on this node or, in a cluster, spread over the nodes."""
        if devices and spreads(self.core, step):
            return await spread(self.core, self.record, step, devices, self.contexts)
        return await self.run_here(step, devices)

    def _until(self, step: Step, host: str, result: HostResult) -> HostResult:
        """`result`, failed when the step's `until` does not hold for it yet."""
        if step.until is None or step.save_as is None or result.status == "failed":
            return result
        context = {**self.contexts[host], step.save_as: result.registered()}
        if expression_of(step.until)(**context):
            return result
        error = f"until not met: {step.until}"
        return HostResult("failed", result.data, error, result.attempts, result.node)

    async def run_here(self, step: Step, devices: list[Device]) -> dict[str, HostResult]:
        """The step over `devices` on this node, loops included; with a `timeout`, each host runs
        on its own and a host that takes longer is cut (failed) without costing the others."""
        if step.timeout is None:
            return await self._looped(step, devices)
        timeout = step.timeout

        async def one(device: Device) -> dict[str, HostResult]:
            try:
                return await asyncio.wait_for(self._looped(step, [device]), timeout)
            except TimeoutError:
                return {device.name: HostResult("failed", error=f"timed out after {timeout:g} s")}

        results: dict[str, HostResult] = {}
        for part in await asyncio.gather(*(one(d) for d in devices)):
            results.update(part)
        return results

    async def _looped(self, step: Step, devices: list[Device]) -> dict[str, HostResult]:
        if step.loop is None:
            return await self._action(step, devices, None)
        combined: dict[str, list[HostResult]] = {d.name: [] for d in devices}
        items = {
            d.name: (
                step.loop
                if isinstance(step.loop, list)
                else list(expression_of(step.loop)(**self.contexts[d.name]) or [])
            )
            for d in devices
        }
        for index in range(max((len(v) for v in items.values()), default=0)):
            # hosts whose item at this position is the same value run it together
            groups: dict[str, tuple[Any, list[Device]]] = {}
            for device in devices:
                if index < len(items[device.name]):
                    value = items[device.name][index]
                    groups.setdefault(repr(value), (value, []))[1].append(device)
            for value, these in groups.values():
                for name, result in (await self._action(step, these, value)).items():
                    combined[name].append(result)
        return {
            name: HostResult(
                "failed" if any(r.status == "failed" for r in parts) else "ok",
                {"results": [r.registered() for r in parts]},
                next((r.error for r in parts if r.error), None),
            )
            for name, parts in combined.items()
        }

    async def _action(self, step: Step, devices: list[Device], item: Any) -> dict[str, HostResult]:
        if not devices:
            return {}
        action, args = step.action or "", step.args
        if action in self.tasks:
            return await self._plugin_task(action, args, devices, item)
        handler = getattr(self, f"_do_{action}")
        try:
            return await handler(args, devices, item)
        except Exception as exc:  # a bug or a library error: every host of the step failed, named
            return {
                d.name: HostResult("failed", error=f"{type(exc).__name__}: {exc}") for d in devices
            }
