"""Nornir over netmiko for SSH work: one inventory per run, host keys enforced by paramiko."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from nornir.core import Nornir
from nornir.core.inventory import ConnectionOptions, Defaults, Groups, Host, Hosts, Inventory
from nornir.core.plugins.connections import ConnectionPluginRegister
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
    return Nornir(inventory=inventory, runner=ThreadedRunner(num_workers=workers))


def describe_error(error: BaseException | None) -> str:
    """One line for a per-device failure: the exception type and its first line."""
    if error is None:
        return "failed without an error message"
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:500]


R = TypeVar("R")


def run_each(
    targets: list[SshTarget],
    known_hosts: Path,
    concurrency: int,
    task: Callable[..., Any],
    result_type: type[R],
    failed: Callable[[str, str], R],
    **params: Any,
) -> list[R]:
    """Run a Nornir task on every target (blocking): one `result_type` per target, in order; a
    task that raised becomes `failed(name, error)`."""
    if not targets:
        return []
    nr = nornir_for(targets, known_hosts, min(concurrency, len(targets)))
    try:
        aggregated = nr.run(task=task, on_failed=True, **params)
    finally:
        nr.close_connections(on_good=True, on_failed=True)
    results = []
    for target in targets:
        first = aggregated[target.name][0]
        if isinstance(first.result, result_type):
            results.append(first.result)
        else:
            results.append(failed(target.name, describe_error(first.exception)))
    return results
