"""SSH servers (asyncssh) that put an `IosDevice` behind a real CLI: prompts, echo, modes, paging.

What netmiko, scrapli and NAPALM need from a device (see ../shared/FACTS.md): a PTY shell with
echo, `name#`-style prompts, `terminal length/width` accepted silently, `% Invalid input detected`
for unknown commands, `enable` with a password prompt, config mode whose prompt names the sub-mode,
and a newline before the prompt on an empty line.

Faults for the failure tests come from `<device>.faults.json` next to the host key, read before
every command, so a running lab can be told to misbehave: `{"reject": [regex], "hang": [regex],
"drop": [regex]}` — refuse a matching config command, never answer it, or cut the session.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from genosd.lab.ios_device import INVALID, IosDevice

log = logging.getLogger(__name__)

SUBMODES = {"interface": "config-if", "router": "config-router", "line": "config-line",
            "vlan": "config-vlan"}  # fmt: skip


@dataclass(frozen=True)
class Faults:
    """Commands (regexes) to refuse, to hang on, or to drop the session at."""

    reject: tuple[str, ...] = ()
    hang: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> Faults:
        """The faults file, or none when it does not exist or does not parse."""
        if path is None or not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            return cls(*(tuple(data.get(k, ())) for k in ("reject", "hang", "drop")))
        except (OSError, ValueError, TypeError):
            log.warning("ignoring unreadable faults file %s", path)
            return cls()

    def match(self, kind: str, command: str) -> bool:
        """Whether `command` matches one of the `kind` patterns."""
        return any(re.search(p, command) for p in getattr(self, kind))


@dataclass
class SimulatedDevice:
    """One device of the lab: state, credentials, host key and faults file."""

    device: IosDevice
    username: str
    password: str
    enable_secret: str
    host_key: asyncssh.SSHKey
    faults_path: Path | None = None
    sessions: int = field(default=0)

    def faults(self) -> Faults:
        """The faults in force right now."""
        return Faults.load(self.faults_path)


class _Server(asyncssh.SSHServer):
    def __init__(self, sim: SimulatedDevice):
        self.sim = sim

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.sim.username and password == self.sim.password


class CliSession:
    """The modes of one SSH session."""

    def __init__(self, sim: SimulatedDevice, process: asyncssh.SSHServerProcess[str]):
        self.sim = sim
        self.process = process
        self.privileged = True
        self.config = False
        self.section: str | None = None

    @property
    def prompt(self) -> str:
        name = self.sim.device.hostname
        if self.config:
            mode = "config"
            if self.section is not None:
                mode = SUBMODES.get(self.section.split()[0], "config-" + self.section.split()[0])
            return f"{name}({mode})#"
        return f"{name}{'#' if self.privileged else '>'}"

    def echo(self, on: bool) -> None:
        # the line editor wraps the channel at run time; its set_echo is not in the static type
        editor: Any = self.process.channel
        editor.set_echo(on)

    def write(self, text: str) -> None:
        self.process.stdout.write(text.replace("\n", "\r\n"))

    async def read_line(self) -> str | None:
        try:
            line = await self.process.stdin.readline()
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
            return ""
        return None if line == "" else line.rstrip("\r\n")

    async def run(self) -> None:
        self.write(self.prompt)
        while True:
            line = await self.read_line()
            if line is None:
                return
            command = line.strip()
            faults = self.sim.faults()
            if command and faults.match("drop", command):
                log.info("%s: dropping the session at %r (fault)", self.sim.device.name, command)
                self.process.channel.abort()
                return
            if command and faults.match("hang", command):
                await asyncio.Event().wait()  # never answers; the client must time out
            if not command:
                self.write("\n" + self.prompt)
                continue
            if not await self.execute(command, faults):
                return
            self.write(self.prompt)

    async def execute(self, command: str, faults: Faults) -> bool:
        """Run one command; False when the session ends."""
        device = self.sim.device
        if command in ("exit", "logout", "quit") and not self.config:
            self.process.exit(0)
            return False
        if command == "enable":
            if not self.privileged:
                self.write("Password: ")
                self.echo(False)
                secret = await self.read_line()
                self.echo(True)
                self.write("\n")
                if secret != self.sim.enable_secret:
                    self.write("% Access denied\n\n")
                    return True
            self.privileged = True
            return True
        if command == "disable":
            self.privileged, self.config = False, False
            return True
        if not self.privileged:
            if command.startswith(("show", "terminal", "term")):
                output = device.exec_command(command)
                self.write(output if output is not None else INVALID)
            else:
                self.write(INVALID)
            return True
        if self.config:
            return self.configure(command, faults)
        if command in ("configure terminal", "conf t", "config t", "configure t"):
            self.config, self.section = True, None
            self.write("Enter configuration commands, one per line.  End with CNTL/Z.\n")
            return True
        output = device.exec_command(command)
        self.write(output if output is not None else INVALID)
        return True

    def configure(self, command: str, faults: Faults) -> bool:
        if command in ("end", "\x1a"):
            self.config, self.section = False, None
            return True
        if command == "exit":
            if self.section is None:
                self.config = False
            self.section = None
            return True
        if command.startswith("do "):
            output = self.sim.device.exec_command(command[3:])
            self.write(output if output is not None else INVALID)
            return True
        if faults.match("reject", command):
            self.write(INVALID)
            return True
        self.section, output = self.sim.device.config_command(self.section, command)
        self.write(output)
        return True


async def _serve_session(sim: SimulatedDevice, process: asyncssh.SSHServerProcess[str]) -> None:
    sim.sessions += 1
    try:
        await CliSession(sim, process).run()
    except (asyncssh.ConnectionLost, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sim.sessions -= 1
        if not process.is_closing():
            process.exit(0)


async def start_ssh_device(sim: SimulatedDevice, host: str, port: int) -> asyncssh.SSHAcceptor:
    """Listen for SSH sessions to `sim` on host:port."""

    async def handler(process: asyncssh.SSHServerProcess[str]) -> None:
        await _serve_session(sim, process)

    return await asyncssh.create_server(
        lambda: _Server(sim),
        host,
        port,
        server_host_keys=[sim.host_key],
        process_factory=handler,
        line_editor=True,
        keepalive_interval=0,
    )
