"""Backing up running configs over SSH into the git history, one Nornir task per device.

Per device: check the pinned SSH host key, read the running config with netmiko (through Nornir's
threaded runner, so `concurrency` sessions at most, each closed as its device is done), drop
volatile lines, mask secrets, commit if the text changed. Every device ends with a result (ok /
changed / failed with the reason); one dead device never stops the others. `read_configs` does
the reading alone (a cluster node reading for another), `store` the committing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nornir.core.task import Result, Task

from genosd.config.history import ConfigHistory, change_message
from genosd.config.normalize import for_history, strip_volatile
from genosd.config.secrets import Masker
from genosd.errors import DeviceError
from genosd.platforms import Platform
from genosd.ssh.cli import Cli, open_cli
from genosd.ssh.hostkeys import KnownHosts, Policy
from genosd.ssh.nornir import describe_error, run_each
from genosd.ssh.target import SshTarget

log = logging.getLogger(__name__)
Inspector = Callable[[str, str], None]


@dataclass(frozen=True)
class BackupResult:
    """What happened to one device."""

    device: str
    ok: bool
    changed: bool = False
    version: str | None = None
    masked: int = 0
    lines: int = 0
    host_key: str | None = None
    error: str | None = None
    duration: float = 0.0


@dataclass(frozen=True)
class ReadConfig:
    """A running config as read for the history: volatile lines dropped, secrets masked."""

    device: str
    text: str
    masked: int
    host_key: str | None
    duration: float


def _read_task(
    task: Task,
    known: KnownHosts,
    policy: Policy,
    mask: bool,
    mask_key: bytes | None,
    inspect: Inspector | None,
) -> Result:
    """Read one device's running config: a ReadConfig, or a failed BackupResult."""
    target: SshTarget = task.host.data["target"]
    started = time.monotonic()
    platform = target.platform
    command = platform.commands["running_config"]
    try:
        key = known.enforce(target.address, target.port, policy, target.timeout)
        raw = _read(open_cli(task, platform, known), platform, command, target.timeout)
    except Exception as exc:  # a device that cannot be read is a failed result, never a crash
        failed = BackupResult(
            target.name, False, error=describe_error(exc), duration=time.monotonic() - started
        )
        return Result(host=task.host, failed=True, result=failed)
    masker = Masker(platform, target.name, mask_key) if mask else None
    text, masked = for_history(platform, raw, masker)
    if inspect is not None:
        try:
            inspect(target.name, strip_volatile(platform, raw))
        except Exception:  # a compliance check must never cost a backup
            log.exception("%s: inspecting the running config failed", target.name)
    read = ReadConfig(target.name, text, masked, key.status, time.monotonic() - started)
    return Result(host=task.host, result=read)


def store(history: ConfigHistory, read: ReadConfig, author: str) -> BackupResult:
    """Commit a read config to the history (when it changed); the device's backup result."""
    version = history.commit(
        read.device,
        read.text,
        author,
        lambda previous: change_message(read.device, previous, read.text, read.masked),
    )
    return BackupResult(
        read.device,
        True,
        version is not None,
        version,
        read.masked,
        len(read.text.splitlines()),
        read.host_key,
        None,
        read.duration,
    )


def _backup_task(task: Task, history: ConfigHistory, author: str, **read: Any) -> Result:
    outcome = _read_task(task, **read)
    if outcome.failed:
        return outcome
    result = store(history, outcome.result, author)
    return Result(host=task.host, changed=result.changed, result=result)


def _read(cli: Cli, platform: Platform, command: str, timeout: float) -> str:
    raw = cli.show(command, timeout)
    if platform.refused(raw) or len(raw.strip()) < 10:
        raise DeviceError(f"{command!r} returned no usable configuration: {raw[:120]!r}")
    return raw


def _failed(device: str, error: str) -> BackupResult:
    return BackupResult(device, False, error=error)


def read_configs(
    targets: list[SshTarget],
    known_hosts: KnownHosts,
    *,
    policy: Policy = "accept-new",
    concurrency: int = 20,
    mask: bool = True,
    mask_key: bytes | None = None,
    inspect: Inspector | None = None,
) -> list[ReadConfig | BackupResult]:
    """Read every target's running config for the history, storing nothing (blocking): a
    ReadConfig per device read, a failed BackupResult per device that was not."""
    return run_each(
        targets,
        known_hosts.path,
        concurrency,
        _read_task,
        (ReadConfig, BackupResult),  # type: ignore[arg-type]
        _failed,
        known=known_hosts,
        policy=policy,
        mask=mask,
        mask_key=mask_key,
        inspect=inspect,
    )


def backup(
    targets: list[SshTarget],
    history: ConfigHistory,
    known_hosts: KnownHosts,
    *,
    policy: Policy = "accept-new",
    concurrency: int = 20,
    author: str = "genosd",
    mask: bool = True,
    mask_key: bytes | None = None,
    inspect: Inspector | None = None,
) -> list[BackupResult]:
    """Back up every target (blocking; call it from a worker thread in async code).

    Secrets are masked (unless `mask` is off) with tokens under `mask_key` (`<masked>` without
    one). `inspect(device, text)` sees each running config before masking (e.g. for compliance rules);
    it runs on a worker thread and must not keep the text.
    """
    results = run_each(
        targets,
        known_hosts.path,
        concurrency,
        _backup_task,
        BackupResult,
        _failed,
        history=history,
        author=author,
        known=known_hosts,
        policy=policy,
        mask=mask,
        mask_key=mask_key,
        inspect=inspect,
    )
    history.checkout()
    return results
