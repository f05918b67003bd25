"""SSH facts: each platform's show commands, parsed by TextFSM (ntc-templates), stored per device.

Which commands run is data (`commands` in platforms.yaml, every kind but `running_config`); the
parser is ntc-templates' index for the platform's netmiko name and the command. A command the
device refuses or that no template parses is an error of that fact, not of the device.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from nornir.core.task import Result, Task
from ntc_templates.parse import parse_output

from genosd.errors import DeviceError
from genosd.platforms import Platform
from genosd.ssh.cli import open_cli
from genosd.ssh.hostkeys import KnownHosts, Policy
from genosd.ssh.nornir import describe_error, run_each
from genosd.ssh.target import SshTarget
from genosd.statedb import transaction

log = logging.getLogger(__name__)


@dataclass
class FactsResult:
    """One device's facts: parsed rows per kind, and the kinds that failed with why."""

    device: str
    ok: bool
    collected_at: float = 0.0
    facts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0


def parse(platform: Platform, command: str, output: str) -> list[dict[str, Any]]:
    """Rows parsed by the ntc-templates template for this platform and command."""
    if platform.refused(output):
        raise DeviceError(f"the device refused {command!r}: {output.strip()[:120]!r}")
    try:
        rows = parse_output(platform=platform.netmiko, command=command, data=output)
    except Exception as exc:
        raise DeviceError(f"no TextFSM parse of {command!r}: {describe_error(exc)}") from None
    return [dict(row) for row in rows]


def _facts_task(task: Task, known: KnownHosts, policy: Policy) -> Result:
    target: SshTarget = task.host.data["target"]
    platform = target.platform
    started = time.monotonic()
    result = FactsResult(target.name, False, collected_at=time.time())
    try:
        known.enforce(target.address, target.port, policy, target.timeout)
        cli = open_cli(task, platform, known)
    except Exception as exc:
        result.error = describe_error(exc)
        result.duration = time.monotonic() - started
        return Result(host=task.host, failed=True, result=result)
    for kind, command in platform.commands.items():
        if kind == "running_config":
            continue
        try:
            output = cli.show(command, target.timeout)
            result.facts[kind] = parse(platform, command, output)
        except DeviceError as exc:
            result.errors[kind] = str(exc)
        except Exception as exc:
            result.errors[kind] = describe_error(exc)
            break
    result.ok = bool(result.facts)
    if not result.ok:
        result.error = "no fact could be collected: " + "; ".join(result.errors.values())[:400]
    result.duration = time.monotonic() - started
    return Result(host=task.host, failed=not result.ok, result=result)


def collect_facts(
    targets: list[SshTarget],
    known_hosts: KnownHosts,
    *,
    policy: Policy = "accept-new",
    concurrency: int = 20,
) -> list[FactsResult]:
    """Facts of every target (blocking; call it from a worker thread in async code)."""
    return run_each(
        targets,
        known_hosts.path,
        concurrency,
        _facts_task,
        FactsResult,
        lambda name, error: FactsResult(name, False, error=error),
        known=known_hosts,
        policy=policy,
    )


def store_facts(db: sqlite3.Connection, result: FactsResult) -> None:
    """Keep the newest facts of a device (facts that failed this time keep their last value)."""
    with transaction(db):
        row = db.execute("SELECT facts FROM facts WHERE device = ?", (result.device,)).fetchone()
        merged = {**(json.loads(row[0]) if row else {}), **result.facts}
        db.execute(
            "INSERT OR REPLACE INTO facts (device, collected_at, facts, errors) "
            "VALUES (?, ?, ?, ?)",
            (result.device, result.collected_at, json.dumps(merged), json.dumps(result.errors)),
        )


def stored_facts(db: sqlite3.Connection, device: str) -> FactsResult | None:
    """The newest stored facts of a device, if any."""
    row = db.execute(
        "SELECT collected_at, facts, errors FROM facts WHERE device = ?", (device,)
    ).fetchone()
    if row is None:
        return None
    return FactsResult(device, True, row[0], json.loads(row[1]), json.loads(row[2]))
