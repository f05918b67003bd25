"""Read-only commands over SSH on many devices at once (playbooks' `show` step), parsed where a
TextFSM template exists; the same sessions, host-key pinning and transports as facts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from nornir.core.task import Result, Task

from genosd.collectors.facts import parse
from genosd.errors import DeviceError
from genosd.ssh.cli import open_cli
from genosd.ssh.hostkeys import KnownHosts, Policy
from genosd.ssh.nornir import KeptSessions, describe_error, has_session, run_each
from genosd.ssh.target import SshTarget


@dataclass
class CommandsResult:
    """One device's outputs: {command: {"output": text, "parsed": rows or None}}."""

    device: str
    ok: bool
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0


def _commands_task(
    task: Task, commands: list[str], parse_output: bool, known: KnownHosts, policy: Policy
) -> Result:
    target: SshTarget = task.host.data["target"]
    started = time.monotonic()
    result = CommandsResult(target.name, False)

    def send() -> None:
        if not has_session(task):
            known.ensure_pinned(target.address, target.port, policy, target.timeout)
        try:
            cli = open_cli(task, target.platform, known)
        except Exception:
            # the session refused the device (a changed key among other causes): say which
            known.enforce(target.address, target.port, policy, target.timeout)
            raise
        for command in commands:
            output = cli.show(command, target.timeout)
            parsed = None
            if parse_output:
                try:
                    parsed = parse(target.platform, command, output)
                except DeviceError:
                    parsed = None  # no template for this command: the text is the result
            result.outputs[command] = {"output": output, "parsed": parsed}

    kept = has_session(task)
    try:
        try:
            send()
        except Exception:
            if not kept:
                raise
            # a kept session the device closed while idle: once more on a new one
            task.host.close_connections()
            result.outputs.clear()
            send()
        result.ok = True
    except Exception as exc:
        result.error = describe_error(exc)
    result.duration = time.monotonic() - started
    return Result(host=task.host, failed=not result.ok, result=result)


def run_commands(
    targets: list[SshTarget],
    commands: list[str],
    known_hosts: KnownHosts,
    *,
    parse_output: bool = True,
    policy: Policy = "accept-new",
    concurrency: int = 20,
    kept: KeptSessions | None = None,
) -> list[CommandsResult]:
    """Each target's outputs (blocking; call it from a worker thread in async code); with
    `kept`, over sessions that stay open for the next run."""
    return run_each(
        targets,
        known_hosts.path,
        concurrency,
        _commands_task,
        CommandsResult,
        lambda name, error: CommandsResult(name, False, error=error),
        kept,
        commands=commands,
        parse_output=parse_output,
        known=known_hosts,
        policy=policy,
    )
