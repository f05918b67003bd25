"""Show commands over the platform's collection transport: netmiko or scrapli, per platform.

`transport` in platforms.yaml picks the library that reads a device (facts, backups); pushes stay
on netmiko, whose config-mode, commit and save helpers the deploy path uses. Both enforce the key
pinned in genosd's known_hosts: netmiko through paramiko's `alt_key_file`, scrapli through its
paramiko transport with `auth_strict_key`, given a file holding just this device's pinned key
(scrapli looks keys up by address alone, and lab devices share 127.0.0.1 on different ports).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any, Protocol

from nornir.core.inventory import ConnectionOptions
from nornir.core.task import Task

from genosd.errors import DeviceError
from genosd.platforms import Platform
from genosd.ssh.hostkeys import KnownHosts, entry_name
from genosd.ssh.journal import noting
from genosd.ssh.target import SshTarget


class Cli(Protocol):
    """An open CLI session that answers show commands."""

    def show(self, command: str, timeout: float) -> str:
        """The output of `command` (prompt and echo stripped)."""
        ...


class _Netmiko:
    def __init__(self, connection: Any, device: str):
        self.connection = connection
        self.device = device

    def show(self, command: str, timeout: float) -> str:
        with noting(self.device, "show", command) as noted:
            output = self.connection.send_command(command, read_timeout=timeout)
            text = output if isinstance(output, str) else str(output)
            noted.append(text)
        return text


class _Scrapli:
    def __init__(self, connection: Any, device: str):
        self.connection = connection
        self.device = device

    def show(self, command: str, timeout: float) -> str:
        with noting(self.device, "show", command) as noted:
            text = str(self.connection.send_command(command, timeout_ops=timeout).result)
            noted.append(text)
        return text


@contextlib.contextmanager
def _one_key_file(known: KnownHosts, target: SshTarget, name: str) -> Iterator[str]:
    """A known_hosts file holding only the device's pinned key, under `name`, for the time a
    session opens: the library then parses one line, not every device's key."""
    key = known.pinned(target.address, target.port)
    if key is None:
        raise DeviceError(f"no pinned SSH host key for {target.address}:{target.port}")
    fd, path = tempfile.mkstemp(prefix="genosd-key-", text=True)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(f"{name} {key}\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # the key was checked when the session opened


def netmiko_session(task: Task, known: KnownHosts) -> Any:
    """The task host's netmiko session, opened against its pinned key if not open yet."""
    if "netmiko" not in task.host.connections:
        target: SshTarget = task.host.data["target"]
        options = task.host.connection_options["netmiko"]
        extras = options.extras or {}
        with _one_key_file(known, target, entry_name(target.address, target.port)) as path:
            options.extras = {**extras, "alt_key_file": path}
            try:
                return task.host.get_connection("netmiko", task.nornir.config)
            finally:
                options.extras = extras  # a later reconnect reads the whole file again
    return task.host.get_connection("netmiko", task.nornir.config)


def open_cli(task: Task, platform: Platform, known: KnownHosts) -> Cli:
    """The task host's session over `platform.transport`, its host key already enforced."""
    target: SshTarget = task.host.data["target"]
    if platform.transport == "netmiko":
        return _Netmiko(netmiko_session(task, known), target.name)
    # scrapli looks keys up by address alone
    with _one_key_file(known, target, target.address) as path:
        task.host.connection_options["scrapli"] = ConnectionOptions(
            platform=platform.scrapli,
            extras={
                "transport": "paramiko",
                "auth_strict_key": True,
                "ssh_known_hosts_file": path,
                "auth_secondary": target.enable_secret or "",
                "ssh_config_file": False,
                "timeout_socket": target.timeout,
                "timeout_transport": target.timeout,
                "timeout_ops": target.timeout,
            },
        )
        connection = task.host.get_connection("scrapli", task.nornir.config)
    _close_transport_first(connection.transport)
    return _Scrapli(connection, target.name)


def _close_transport_first(transport: Any) -> None:
    """Make closing stop paramiko's reader thread before the socket goes away.

    scrapli's paramiko transport (1.x) closes the channel and the socket but not the paramiko
    Transport, whose thread then reads a closed descriptor and logs "Socket exception: Bad file
    descriptor (9)" at ERROR for every session.
    """
    scrapli_close = transport.close

    def close() -> None:
        if transport.session is not None:
            transport.session.close()
        scrapli_close()

    transport.close = close
