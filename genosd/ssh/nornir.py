"""Nornir over netmiko for SSH work: one inventory per run, host keys enforced by paramiko."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from nornir.core import Nornir
from nornir.core.inventory import ConnectionOptions, Defaults, Groups, Host, Hosts, Inventory
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir.core.task import AggregatedResult, Task
from nornir.plugins.runners import ThreadedRunner

from genosd.ssh.target import SshTarget


def nornir_for(targets: Iterable[SshTarget], known_hosts: Path, workers: int) -> Nornir:
    """A Nornir whose hosts are `targets`, netmiko pinned to the keys in `known_hosts`."""
    ConnectionPluginRegister.auto_register()
    hosts = Hosts()
    for t in targets:
        extras: dict[str, Any] = {
            "secret": t.enable_secret or "",
            "ssh_strict": True,  # paramiko enforces the key pinned in known_hosts
            "system_host_keys": False,
            "alt_host_keys": True,
            "alt_key_file": str(known_hosts),
            "allow_agent": False,
            "use_keys": False,
            "conn_timeout": t.timeout,
            "auth_timeout": t.timeout,
            "banner_timeout": t.timeout,
            "fast_cli": False,
        }
        hosts[t.name] = Host(
            name=t.name,
            hostname=t.address,
            port=t.port,
            username=t.username,
            password=t.password,
            platform=t.platform.netmiko,
            data={"target": t},
            connection_options={"netmiko": ConnectionOptions(extras=extras)},
        )
    inventory = Inventory(hosts=hosts, groups=Groups(), defaults=Defaults())
    return Nornir(inventory=inventory, runner=ContextRunner(num_workers=workers))


class ContextRunner(ThreadedRunner):
    """Nornir's threaded runner, each task in a copy of the starting thread's context: what the
    application set there (genosd.ssh.journal's recording) holds in the worker threads too."""

    def run(self, task: Task, hosts: list[Host]) -> AggregatedResult:
        """Run `task` on every host, `num_workers` at once."""
        context = contextvars.copy_context()
        result = AggregatedResult(task.name)
        with ThreadPoolExecutor(self.num_workers) as pool:
            futures = [pool.submit(context.copy().run, task.copy().start, h) for h in hosts]
        for future in futures:
            done = future.result()
            result[done.host.name] = done
        return result


def describe_error(error: BaseException | None) -> str:
    """One line for a per-device failure: the exception type and its first line."""
    if error is None:
        return "failed without an error message"
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:500]


R = TypeVar("R")


class KeptSessions:
    """One SSH session per device kept open across several runs (a playbook batch's steps):
    the host key is checked when a session opens, not again for every command. `close()` ends
    them (blocking). Runs over different devices may share it from several threads."""

    def __init__(self, targets: list[SshTarget], known_hosts: Path, concurrency: int):
        self._targets = {t.name: t for t in targets}
        self._nornir = nornir_for(targets, known_hosts, max(1, min(concurrency, len(targets))))

    def nornir(self, targets: list[SshTarget]) -> Nornir | None:
        """A Nornir over `targets` on the kept sessions; None if one is not among them."""
        if any(self._targets.get(t.name) != t for t in targets):
            return None
        names = {t.name for t in targets}
        return self._nornir.filter(filter_func=lambda host: host.name in names)

    def close(self) -> None:
        """Close every session (blocking)."""
        self._nornir.close_connections(on_good=True, on_failed=True)


def has_session(task: Task) -> bool:
    """Whether the task's host already has an open session (kept from an earlier run)."""
    return bool(task.host.connections)


def _closing(task: Task, inner: Callable[..., Any], **params: Any) -> Any:
    """`inner`, then the host's session closed: a run over thousands of devices must not keep
    a session (and paramiko's reader thread) per device open until the end."""
    try:
        return inner(task, **params)
    finally:
        task.host.close_connections()


def run_each(
    targets: list[SshTarget],
    known_hosts: Path,
    concurrency: int,
    task: Callable[..., Any],
    result_type: type[R],
    failed: Callable[[str, str], R],
    kept: KeptSessions | None = None,
    **params: Any,
) -> list[R]:
    """Run a Nornir task on every target (blocking): one `result_type` per target, in order; a
    task that raised becomes `failed(name, error)`. With `kept`, sessions stay open after;
    without, each host's session closes as its task ends (so at most `concurrency` are open)."""
    if not targets:
        return []
    shared = kept.nornir(targets) if kept is not None else None
    nr = shared or nornir_for(targets, known_hosts, min(concurrency, len(targets)))
    try:
        if shared is not None:
            aggregated = nr.run(task=task, on_failed=True, **params)
        else:
            aggregated = nr.run(task=_closing, on_failed=True, inner=task, **params)
    finally:
        if shared is None:
            nr.close_connections(on_good=True, on_failed=True)
    results = []
    for target in targets:
        first = aggregated[target.name][0]
        if isinstance(first.result, result_type):
            results.append(first.result)
        else:
            results.append(failed(target.name, describe_error(first.exception)))
    return results
