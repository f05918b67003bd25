"""The playbook actions that read or tell: poll, backup, facts, show, assert, wait, notify, llm,
and plugin tasks. Each runs over a batch's hosts at once and returns a result per host; the
device-changing actions are in genosd.app.playbook_changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from genosd.app import reports
from genosd.app.backups import run_backup
from genosd.app.core import AppCore
from genosd.app.facts import collect
from genosd.app.playbook_records import HostResult, RunRecord
from genosd.app.troubleshoot import diagnose
from genosd.collectors.commands import run_commands
from genosd.collectors.snmp import poll_device
from genosd.collectors.snmp_client import SessionFactory
from genosd.config.validate import ValidationReport
from genosd.inventory import Device
from genosd.llm import LlmUnavailable
from genosd.platforms import read_verbs
from genosd.playbooks.model import Playbook
from genosd.readonly import read_only_problem
from genosd.ssh.nornir import KeptSessions
from genosd.troubleshoot.findings import RANK

PluginRun = Callable[[str, BaseModel], Awaitable[dict[str, Any]]]


class LlmAnswer(BaseModel):
    """What a playbook's `llm` step asks the model for."""

    answer: str = Field(max_length=20000)


_LLM_SYSTEM = (
    "You help a network operations team. Answer the user's question about a network device "
    'from the data given, briefly and precisely, as JSON: {"answer": "..."}. Your answer is '
    "shown to people; it is never sent to a device."
)
_LLM_AT_ONCE = 2  # an Ollama server answers one or two requests at a time anyway


def _without_ssh(devices: list[Device]) -> dict[str, HostResult]:
    """Failed results for the devices an SSH action cannot reach (no SSH settings)."""
    return {d.name: HostResult("failed", error="no SSH settings") for d in devices if d.ssh is None}


class ReadActions:
    """The reading actions of a BatchRunner (which supplies what is declared here)."""

    core: AppCore
    playbook: Playbook
    record: RunRecord
    tasks: dict[str, tuple[type[BaseModel], PluginRun]]
    kept: KeptSessions | None

    def _truth(self, expression: str, host: str, item: Any = None) -> bool:
        raise NotImplementedError

    def _render(self, text: str, host: str, item: Any = None) -> str:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError

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
        reports: dict[str, ValidationReport] = {}
        for backup in await run_backup(
            self.core, with_ssh, f"playbook:{self.record.actor}", reports
        ):
            data: dict[str, Any] = {
                "version": backup.version,
                "lines": backup.lines,
                "masked": backup.masked,
            }
            report = reports.get(backup.device)
            if report is not None:  # the running config against its baseline and rules
                failing = sorted({f.rule for f in report.findings if f.waiver is None})
                data["compliance"] = {"score": report.score, "failing": failing}
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
                # checked again as rendered: a variable must not turn `show {{ x }}` into a write
                verbs = read_verbs(device.platform)
                problems = [p for c in commands if (p := read_only_problem(c, verbs))]
                if problems:
                    results[device.name] = HostResult("failed", error=f"refused: {problems[0]}")
                    continue
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
                kept=self.kept,
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

    async def _do_diagnose(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        fail_on = args.get("fail_on", "critical")
        actor = f"playbook {self.playbook.name}:{self.record.actor}"

        async def one(device: Device) -> HostResult:
            found = await diagnose(
                self.core,
                device.name,
                minutes=float(args.get("minutes", 60)),
                routing_state=bool(args.get("routing", False)),
                actor=actor,
            )
            bad = [
                f
                for f in found["findings"]
                if fail_on != "none" and RANK[f["severity"]] >= RANK[fail_on]
            ]
            error = (
                f"{len(bad)} finding(s) at {fail_on} or worse: {bad[0]['summary']}" if bad else None
            )
            return HostResult("failed" if bad else "ok", found, error)

        outcomes = await asyncio.gather(*(one(d) for d in devices))
        return {d.name: r for d, r in zip(devices, outcomes, strict=True)}

    async def _do_report(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        built = await reports.build(self.core, args["kind"])
        files = await asyncio.to_thread(
            reports.write, self.core, built, list(args.get("formats") or ["html"])
        )
        targets = list(args.get("send") or [])
        if targets:
            await reports.send(self.core, built, files, targets)
        data = {
            "title": built.title,
            "summary": built.summary,
            "files": [str(f) for f in files],
            "sent": targets,
        }
        return {d.name: HostResult("ok", data) for d in devices}

    async def _do_wait(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        await self.sleep(float(args["seconds"]))
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

    async def _do_llm(
        self, args: dict[str, Any], devices: list[Device], item: Any
    ) -> dict[str, HostResult]:
        llm = self.core.llm
        limit = asyncio.Semaphore(_LLM_AT_ONCE)

        async def one(device: Device) -> HostResult:
            prompt = self.core.lifecycle.masked_text(
                device, self._render(args["prompt"], device.name, item)
            )
            messages = [
                {"role": "system", "content": _LLM_SYSTEM},
                {"role": "user", "content": prompt},
            ]
            try:
                async with limit:
                    answer, result = await llm.structured(
                        "chat", messages, LlmAnswer, model=args.get("model")
                    )
            except LlmUnavailable as exc:
                return HostResult("failed", {"model": args.get("model")}, str(exc))
            data = {"answer": answer.answer, "model": result.model, "trimmed": result.trimmed}
            return HostResult("ok", data)

        outcomes = await asyncio.gather(*(one(d) for d in devices))
        return {d.name: r for d, r in zip(devices, outcomes, strict=True)}
