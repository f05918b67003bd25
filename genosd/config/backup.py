"""Backing up running configs over SSH into the git history, one Nornir task per device.

Per device: check the pinned SSH host key, read the running config with netmiko (through Nornir's
threaded runner, so `concurrency` sessions at most), drop volatile lines, mask secrets, commit if
the text changed. Every device ends with a result (ok / changed / failed with the reason); one dead
device never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nornir.core.task import Result, Task

from genosd.config.history import ConfigHistory, change_message
from genosd.config.normalize import for_history, strip_volatile
from genosd.config.secrets import Masker
from genosd.errors import DeviceError
from genosd.platforms import Platform
from genosd.ssh.cli import Cli, open_cli
from genosd.ssh.hostkeys import KnownHosts, Policy
from genosd.ssh.nornir import describe_error, nornir_for
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


def _backup_task(
    task: Task,
    history: ConfigHistory,
    known: KnownHosts,
    policy: Policy,
    author: str,
    mask: bool,
    mask_key: bytes | None,
    inspect: Inspector | None,
) -> Result:
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
    version = history.commit(
        target.name,
        text,
        author,
        lambda previous: change_message(target.name, previous, text, masked),
    )
    return Result(
        host=task.host,
        changed=version is not None,
        result=BackupResult(
            target.name,
            True,
            version is not None,
            version,
            masked,
            len(text.splitlines()),
            key.status,
            None,
            time.monotonic() - started,
        ),
    )


def _read(cli: Cli, platform: Platform, command: str, timeout: float) -> str:
    raw = cli.show(command, timeout)
    if platform.refused(raw) or len(raw.strip()) < 10:
        raise DeviceError(f"{command!r} returned no usable configuration: {raw[:120]!r}")
    return raw


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
    if not targets:
        return []
    nr = nornir_for(targets, known_hosts.path, min(concurrency, len(targets)))
    started = time.monotonic()
    aggregated = nr.run(
        task=_backup_task,
        history=history,
        known=known_hosts,
        policy=policy,
        author=author,
        mask=mask,
        mask_key=mask_key,
        inspect=inspect,
        on_failed=True,
    )
    nr.close_connections(on_good=True, on_failed=True)
    results = []
    for target in targets:
        multi = aggregated[target.name]
        if isinstance(multi[0].result, BackupResult):
            results.append(multi[0].result)
            continue
        error = next((r.exception for r in multi if r.exception is not None), None)
        results.append(
            BackupResult(
                target.name, False, error=describe_error(error), duration=time.monotonic() - started
            )
        )
    return results
