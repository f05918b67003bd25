"""The playbook actions that change devices: render, validate, plan, deploy, and rollback.

They go through the same workflows as `genosd config` and the API (genosd.app.changes): a plan
records a pending change bound to the hash of its diff; the run's approval gate approves exactly
those changes; deploy pushes a host's approved change (verified, post-checked, rolled back by the
deploy itself on failure). Before a push, the device's running config is saved to history as the
host's rollback point; undoing a host later (`on_failure: rollback`, `rollout.rollback_batch`)
restores that version through the platform's commit model, newest deploy first.

In check mode, plan diffs without recording a change and deploy reports the diff it would push.
A change found `deployed` when a run resumes is never pushed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from genosd.app import changes
from genosd.app.backups import run_backup
from genosd.app.core import AppCore
from genosd.app.playbook_records import HostResult, RunRecord, StepRun, save_run
from genosd.config import changes as records
from genosd.config.render import TemplateError
from genosd.errors import ConflictError, GenosdError
from genosd.inventory import Device
from genosd.playbooks.model import Playbook

Results = dict[str, HostResult]
# how long a deploy step waits for a backup run in progress before it fails
_BACKUP_WAIT = 300.0


class ChangeActions:
    """The device-changing actions of a BatchRunner (which supplies core, playbook, record)."""

    core: AppCore
    playbook: Playbook
    record: RunRecord

    async def _each(
        self, devices: list[Device], one: Callable[[Device], Awaitable[HostResult]]
    ) -> Results:
        """`one` per device, as many at once as `ssh.concurrency`; a host's error is its result."""
        limit = asyncio.Semaphore(self.core.settings.ssh.concurrency)

        async def guarded(device: Device) -> HostResult:
            async with limit:
                try:
                    return await one(device)
                except (TemplateError, GenosdError) as exc:
                    return HostResult("failed", error=str(exc))

        outcomes = await asyncio.gather(*(guarded(d) for d in devices))
        return {d.name: r for d, r in zip(devices, outcomes, strict=True)}

    def _entry(self, host: str) -> dict[str, Any]:
        return self.record.changes.setdefault(host, {"pending": None, "deployed": []})

    async def _do_render(self, args: dict[str, Any], devices: list[Device], item: Any) -> Results:
        async def one(device: Device) -> HostResult:
            rendered = await asyncio.to_thread(self.core.lifecycle.render, device)
            data = {"features": list(rendered.features), "lines": len(rendered.text.splitlines())}
            return HostResult("ok", data)

        return await self._each(devices, one)

    async def _do_validate(self, args: dict[str, Any], devices: list[Device], item: Any) -> Results:
        async def one(device: Device) -> HostResult:
            found = await changes.intended(self.core, device.name, llm=bool(args.get("llm")))
            report = found.report
            blocking = sorted({f.rule for f in report.blocking})
            data = {
                "score": report.score,
                "findings": len(report.findings),
                "blocking": blocking,
                "llm": report.llm,
            }
            if blocking:
                return HostResult("failed", data, f"findings block an approval: {blocking}")
            return HostResult("ok", data)

        return await self._each(devices, one)

    async def _do_plan(self, args: dict[str, Any], devices: list[Device], item: Any) -> Results:
        features = args.get("features")
        if self.record.check:
            return await self._dry_plan(devices, features)

        async def one(device: Device) -> HostResult:
            result = await changes.plan(self.core, device.name, self.record.actor, features)
            entry = self._entry(device.name)
            entry["pending"] = None
            if result.plan.error is not None:
                return HostResult("failed", error=result.plan.error)
            blocking = sorted({f.rule for f in result.report.blocking}) if result.report else []
            change = result.change
            data = {
                "diff": result.plan.diff,
                "commands": len(result.plan.commands),
                "in_sync": result.in_sync,
                "change": change.id if change else None,
                "blocking": blocking,
            }
            if change is not None:
                entry["pending"] = {"change": change.id, "sha256": change.sha256}
            if blocking:
                return HostResult("failed", data, f"findings block an approval: {blocking}")
            return HostResult("ok", data)

        return await self._each(devices, one)

    async def _dry_plan(self, devices: list[Device], features: list[str] | None) -> Results:
        plans = await asyncio.to_thread(self.core.lifecycle.plan, devices, features)
        results: Results = {}
        for plan in plans:
            if plan.error is not None:
                results[plan.device] = HostResult("failed", error=plan.error)
                continue
            self._entry(plan.device)["diff"] = plan.diff
            data = {"diff": plan.diff, "commands": len(plan.commands), "in_sync": not plan.commands}
            results[plan.device] = HostResult("ok", data)
        return results

    async def _do_deploy(self, args: dict[str, Any], devices: list[Device], item: Any) -> Results:
        if self.record.check:
            return {
                d.name: HostResult(
                    "changed" if self._entry(d.name).get("diff") else "ok",
                    {"would_deploy": self._entry(d.name).get("diff", [])},
                )
                for d in devices
            }
        results: Results = {}
        to_push: list[tuple[Device, records.Change]] = []
        for device in devices:
            pending = self._entry(device.name)["pending"]
            if pending is None:
                results[device.name] = HostResult("ok", {"in_sync": True})
                continue
            change = await self.core.db.run(records.get_change, pending["change"])
            done = self._already(device.name, change)
            if done is not None:
                results[device.name] = done
            else:
                to_push.append((device, change))
        points = await self._rollback_points([d for d, _ in to_push])
        for device, _ in to_push:
            if isinstance(points.get(device.name), str):
                self._entry(device.name)["pending"]["restore_to"] = points[device.name]
        await self.core.db.run(save_run, self.record)  # rollback points survive a crash

        async def one(device: Device) -> HostResult:
            point = points.get(device.name)
            if not isinstance(point, str):
                return HostResult("failed", error=f"no rollback point, nothing sent: {point}")
            pending = self._entry(device.name)["pending"]
            deployed = await changes.deploy(
                self.core, pending["change"], self.record.actor, device=device.name
            )
            outcome = deployed.outcome
            data = {"change": pending["change"], **outcome.as_dict()}
            if outcome.status == "deployed":
                self._deployed(device.name)
                return HostResult("changed", data)
            if outcome.status == "unchanged":
                self._entry(device.name)["pending"] = None
                return HostResult("ok", data)
            return HostResult("failed", data, outcome.reason or outcome.status)

        results.update(await self._each([d for d, _ in to_push], one))
        return results

    def _already(self, host: str, change: records.Change) -> HostResult | None:
        """The result for a change that is not simply approved (a resumed run), or None."""
        if change.status == "deployed":  # finished before an interruption: never pushed again
            self._deployed(host)
            return HostResult("changed", {"change": change.id, "resumed": True})
        if change.status == "deploying":
            return HostResult(
                "failed",
                {"change": change.id},
                f"change {change.id} was being deployed when the run was interrupted; its outcome "
                "is unknown: check the device, then plan again",
            )
        if change.status != "approved":
            return HostResult(
                "failed", {"change": change.id}, f"change {change.id} is {change.status}"
            )
        return None

    def _deployed(self, host: str) -> None:
        entry = self._entry(host)
        pending = entry["pending"]
        entry["deployed"].append(
            {"change": pending["change"], "restore_to": pending.get("restore_to")}
        )
        entry["pending"] = None

    async def _rollback_points(self, devices: list[Device]) -> dict[str, str | None]:
        """Save each device's running config now; its history version (or why not, as text
        prefixed with '!') per device."""
        if not devices:
            return {}
        waited = 0.0
        while True:
            try:
                saved = await run_backup(self.core, devices, f"playbook:{self.record.actor}")
                break
            except ConflictError:  # another backup run holds the lock: wait for it
                if waited >= _BACKUP_WAIT:
                    raise
                await asyncio.sleep(1.0)
                waited += 1.0
        points: dict[str, str | None] = {}
        for result in saved:
            if not result.ok:
                points[result.device] = None
                continue
            version = result.version
            if version is None:  # unchanged since the last backup: that version is the point
                newest = await asyncio.to_thread(self.core.history.versions, result.device, 1)
                version = newest[0].id if newest else None
            points[result.device] = version
        return points

    async def rollback(self, devices: list[Device], batch: int, why: str) -> StepRun | None:
        """Undo, newest first, what this run deployed on `devices`; the rollback's step record."""
        undo = [d for d in devices if self._entry(d.name)["deployed"]]
        if not undo:
            return None

        async def one(device: Device) -> HostResult:
            entry = self._entry(device.name)
            undone: list[int] = []
            for done in reversed(list(entry["deployed"])):
                problem = await self._undo(device, done)
                if problem is not None:
                    self._alert(device.name, problem)
                    return HostResult("failed", {"undone": undone}, problem)
                undone.append(done["change"])
                entry["deployed"].remove(done)
            entry.setdefault("rolled_back", []).extend(undone)
            return HostResult("changed", {"undone": undone})

        result = StepRun(batch, f"rollback: {why}", "rollback", index=self.record.cursor.step)
        result.hosts = await self._each(undo, one)
        self.record.steps.append(result)
        await self.core.db.run(save_run, self.record)
        return result

    async def _undo(self, device: Device, done: dict[str, Any]) -> str | None:
        """Restore the rollback point of one deployed change; None, or what went wrong."""
        version = done.get("restore_to")
        if not version:
            return f"change {done['change']}: no rollback point was saved"
        planned = await changes.plan_restore(self.core, device.name, version, self.record.actor)
        if planned.plan.error is not None:
            return f"change {done['change']}: {planned.plan.error}"
        change = planned.change
        if change is None:
            return None  # already back where it was
        actor = f"playbook:{self.record.actor}"
        await self.core.db.run(
            lambda db: records.approve_rollback(db, change.id, undoes=done["change"], actor=actor)
        )
        outcome = (await changes.deploy(self.core, change.id, actor)).outcome
        if outcome.status in ("deployed", "unchanged"):
            return None
        return f"change {done['change']}: the rollback {outcome.status}: {outcome.reason}"

    def _alert(self, host: str, problem: str) -> None:
        self.core.events.publish(
            "alert",
            {
                "source": "playbook",
                "severity": "critical",
                "kind": "rollback_failed",
                "device": host,
                "playbook": self.playbook.name,
                "run": self.record.id,
                "message": problem,
            },
        )
