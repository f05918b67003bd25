"""Running a playbook's steps over one batch of hosts: conditions, loops, retries, timeouts,
registered results, and the built-in actions (poll, backup, facts, show, assert, wait, notify)
plus plugin tasks. Each action runs over the batch's hosts at once and returns a result per host.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from genosd.app.backups import run_backup
from genosd.app.core import AppCore
from genosd.app.facts import collect
from genosd.app.playbook_records import HostResult, RunRecord, StepRun
from genosd.collectors.commands import run_commands
from genosd.collectors.snmp import poll_device
from genosd.collectors.snmp_client import SessionFactory
from genosd.inventory import Device
from genosd.playbooks.expressions import ENVIRONMENT
from genosd.playbooks.model import Playbook, Step

RUNNABLE = frozenset({"poll", "backup", "facts", "show", "assert", "wait", "notify"})
PluginRun = Callable[[str, BaseModel], Awaitable[dict[str, Any]]]


def _without_ssh(devices: list[Device]) -> dict[str, HostResult]:
    """Failed results for the devices an SSH action cannot reach (no SSH settings)."""
    return {d.name: HostResult("failed", error="no SSH settings") for d in devices if d.ssh is None}


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


class BatchRunner:
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

    async def batch(self, number: int, devices: list[Device]) -> set[str]:
        run = {
            "check": self.record.check,
            "actor": self.record.actor,
            "playbook": self.playbook.name,
        }
        for device in devices:
            self.contexts[device.name] = {
                **self.record.variables,
                "host": _host_context(device),
                "run": run,
            }
        failed: set[str] = set()
        await self.steps(self.playbook.steps, number, devices, {d.name for d in devices}, failed)
        return failed

    async def steps(
        self,
        steps: Sequence[Step],
        batch: int,
        devices: list[Device],
        active: set[str],
        failed: set[str],
    ) -> None:
        for step in steps:
            if self.stop:
                return
            if step.block is not None:
                entered = set(active)
                await self.steps(step.block, batch, devices, active, failed)
                if step.always:
                    again = set(entered)
                    await self.steps(step.always, batch, devices, again, failed)
                continue
            hosts = [d for d in devices if d.name in active]
            result = StepRun(batch, step.label, step.action)
            runnable = []
            for device in hosts:
                if step.when is not None and not self._truth(step.when, device.name):
                    result.hosts[device.name] = HostResult("skipped")
                else:
                    runnable.append(device)
            result.hosts.update(await self._with_retries(step, runnable))
            self.record.steps.append(result)
            for name, outcome in result.hosts.items():
                if step.save_as is not None:
                    self.contexts[name][step.save_as] = outcome.registered()
                if outcome.status == "failed":
                    failed.add(name)
                    if step.on_failure != "continue":
                        active.discard(name)
                    if self.playbook.rollout.stop_on_first_failure:
                        self.stop = True

    def _truth(self, expression: str, host: str, item: Any = None) -> bool:
        context = self.contexts[host] if item is None else {**self.contexts[host], "item": item}
        return bool(ENVIRONMENT.compile_expression(expression)(**context))

    def _render(self, text: str, host: str, item: Any = None) -> str:
        context = self.contexts[host] if item is None else {**self.contexts[host], "item": item}
        return ENVIRONMENT.from_string(text).render(**context)

    async def _with_retries(self, step: Step, devices: list[Device]) -> dict[str, HostResult]:
        results: dict[str, HostResult] = {}
        pending = list(devices)
        for attempt in range(1, step.retries + 2):
            try:
                outcome = await asyncio.wait_for(self._looped(step, pending), step.timeout)
            except TimeoutError:
                outcome = {
                    d.name: HostResult("failed", error=f"timed out after {step.timeout:g} s")
                    for d in pending
                }
            for name, result in outcome.items():
                result.attempts = attempt
                results[name] = result
            pending = [d for d in pending if results[d.name].status == "failed"]
            if not pending or attempt > step.retries:
                break
            await asyncio.sleep(step.delay)
        return results

    async def _looped(self, step: Step, devices: list[Device]) -> dict[str, HostResult]:
        if step.loop is None:
            return await self._action(step, devices, None)
        combined: dict[str, list[HostResult]] = {d.name: [] for d in devices}
        items = {
            d.name: (
                step.loop
                if isinstance(step.loop, list)
                else list(ENVIRONMENT.compile_expression(step.loop)(**self.contexts[d.name]) or [])
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

    async def _plugin_task(
        self, action: str, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        model, run = self.tasks[action]

        async def one(device: Device) -> HostResult:
            try:
                rendered = {
                    k: self._render(v, device.name, item) if isinstance(v, str) else v
                    for k, v in args.items()
                }
                return HostResult("ok", await run(device.name, model.model_validate(rendered)))
            except Exception as exc:
                return HostResult("failed", error=f"{type(exc).__name__}: {exc}")

        outcomes = await asyncio.gather(*(one(d) for d in devices))
        return {d.name: r for d, r in zip(devices, outcomes, strict=True)}

    async def _do_poll(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        factory = SessionFactory()

        async def one(device: Device) -> HostResult:
            if device.snmp is None:
                return HostResult("failed", error="no SNMP settings")
            session = factory.open(device.snmp)
            try:
                poll = await poll_device(
                    device.name, device.snmp.address, session, device.snmp.max_repetitions
                )
            finally:
                session.close()
            data = {
                "interfaces": len(poll.interfaces),
                "system": dict(poll.system),
                "problems": poll.problems,
            }
            return HostResult("ok" if poll.ok else "failed", data, poll.error)

        outcomes = await asyncio.gather(*(one(d) for d in devices))
        return {d.name: r for d, r in zip(devices, outcomes, strict=True)}

    async def _do_backup(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        with_ssh = [d for d in devices if d.ssh is not None]
        results = _without_ssh(devices)
        for backup in await run_backup(self.core, with_ssh, f"playbook:{self.record.actor}"):
            data = {"version": backup.version, "lines": backup.lines, "masked": backup.masked}
            status = "failed" if not backup.ok else "changed" if backup.changed else "ok"
            results[backup.device] = HostResult(status, data, backup.error)
        return results

    async def _do_facts(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        results = _without_ssh(devices)
        for facts in await collect(self.core, [d for d in devices if d.ssh is not None]):
            results[facts.device] = HostResult(
                "ok" if facts.ok else "failed", {"facts": facts.facts}, facts.error
            )
        return results

    async def _do_show(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        results = _without_ssh(devices)
        groups: dict[tuple[str, ...], list[Device]] = {}
        for device in devices:
            if device.ssh is not None:
                commands = tuple(self._render(c, device.name, item) for c in args["commands"])
                groups.setdefault(commands, []).append(device)
        ssh = self.core.settings.ssh
        for commands, members in groups.items():
            ran = await asyncio.to_thread(
                run_commands,
                [d.ssh for d in members if d.ssh is not None],
                list(commands),
                self.core.known_hosts,
                parse_output=args.get("parse", True),
                policy=ssh.host_key_policy,
                concurrency=ssh.concurrency,
            )
            for outcome in ran:
                first = outcome.outputs.get(commands[0], {})
                data = {
                    "outputs": outcome.outputs,
                    "output": first.get("output"),
                    "parsed": first.get("parsed"),
                }
                results[outcome.device] = HostResult(
                    "ok" if outcome.ok else "failed", data, outcome.error
                )
        return results

    async def _do_assert(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        results = {}
        for device in devices:
            false = [e for e in args["that"] if not self._truth(e, device.name, item)]
            if false:
                message = self._render(args.get("fail_msg", "assertion failed"), device.name, item)
                results[device.name] = HostResult("failed", {"false": false}, message)
            else:
                results[device.name] = HostResult("ok")
        return results

    async def _do_wait(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        await asyncio.sleep(float(args["seconds"]))
        return {d.name: HostResult("ok") for d in devices}

    async def _do_notify(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        results = {}
        for device in devices:
            message = self._render(args["message"], device.name, item)
            self.core.events.publish(
                "alert",
                {
                    "source": "playbook",
                    "severity": args.get("severity", "info"),
                    "kind": "playbook_notify",
                    "message": message,
                    "device": device.name,
                    "playbook": self.playbook.name,
                    "run": self.record.id,
                    "check": self.record.check,
                },
            )
            results[device.name] = HostResult("ok", {"message": message})
        return results
