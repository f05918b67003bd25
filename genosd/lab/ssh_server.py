"""SSH servers (asyncssh) that put an `IosDevice` behind a real CLI: prompts, echo, modes, paging.

What netmiko, scrapli and NAPALM need from a device (see ../shared/FACTS.md): a PTY shell with
echo, `name#`-style prompts, `terminal length/width` accepted silently, `% Invalid input detected`
for unknown commands, `enable` with a password prompt, config mode whose prompt names the sub-mode,
and a newline before the prompt on an empty line.

Faults for the failure tests come from `<device>.faults.json` next to the host key, read before
every command, so a running lab can be told to misbehave: `{"reject": [regex], "hang": [regex],
"drop": [regex], "slow": {regex: seconds}}` — refuse a matching config command, never answer it,
cut the session, or answer it after a while.
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

from genosd.lab.eos_device import EosDevice
from genosd.lab.ios_device import IosDevice
from genosd.lab.junos_device import SYNTAX, UNKNOWN, JunosDevice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Faults:
    """Commands (regexes) to refuse, to hang on, or to drop the session at."""

    reject: tuple[str, ...] = ()
    hang: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    slow: tuple[tuple[str, float], ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> Faults:
        """The faults file, or none when it does not exist or does not parse."""
        if path is None or not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            slow = tuple((str(p), float(s)) for p, s in dict(data.get("slow", {})).items())
            reject, hang, drop = (tuple(data.get(k, ())) for k in ("reject", "hang", "drop"))
            return cls(reject, hang, drop, slow)
        except (OSError, ValueError, TypeError):
            log.warning("ignoring unreadable faults file %s", path)
            return cls()

    def match(self, kind: str, command: str) -> bool:
        """Whether `command` matches one of the `kind` patterns."""
        return any(re.search(p, command) for p in getattr(self, kind))

    def delay(self, command: str) -> float:
        """Seconds to wait before answering `command` (the longest matching `slow` entry)."""
        return max((s for p, s in self.slow if re.search(p, command)), default=0.0)


@dataclass
class SimulatedDevice:
    """One device of the lab: state, credentials, host key and faults file."""

    device: IosDevice | JunosDevice
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
    """The modes of one SSH session to an IOS-style device (IOS, EOS)."""

    def __init__(self, sim: SimulatedDevice, process: asyncssh.SSHServerProcess[str]):
        self.sim = sim
        self.device = sim.device
        self.process = process
        self.privileged = True
        self.config = False
        self.section: str | None = None
        self.session: str | None = None  # the EOS configuration session being edited

    @property
    def ios(self) -> IosDevice:
        """The device, for the IOS-style modes."""
        assert isinstance(self.device, IosDevice)
        return self.device

    @property
    def prompt(self) -> str:
        name = self.device.hostname
        if self.config:
            mode = "config"
            if self.section is not None:
                mode = self.ios.submode(self.section)
            if self.session is not None:  # EOS: (config-s-NAME) and (config-s-NAME-if-Et1)
                mode = f"config-s-{self.session}" + mode.removeprefix("config")
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
                log.info("%s: dropping the session at %r (fault)", self.device.name, command)
                self.process.channel.abort()
                return
            if command and faults.match("hang", command):
                await asyncio.Event().wait()  # never answers; the client must time out
            if command and (seconds := faults.delay(command)):
                await asyncio.sleep(seconds)
            if not command:
                self.write("\n" + self.prompt)
                continue
            self.device.tick()
            if not await self.execute(command, faults):
                return
            self.write(self.prompt)

    async def execute(self, command: str, faults: Faults) -> bool:
        """Run one command; False when the session ends."""
        device = self.ios
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
                self.write(output if output is not None else self.ios.invalid)
            else:
                self.write(self.ios.invalid)
            return True
        if self.config:
            return self.configure(command, faults)
        if command in ("configure terminal", "conf t", "config t", "configure t"):
            self.config, self.section = True, None
            self.write("Enter configuration commands, one per line.  End with CNTL/Z.\n")
            return True
        words = command.split()
        if words[:2] == ["configure", "session"] and isinstance(device, EosDevice):
            if len(words) == 4:
                self.write(device.session_action(words[2], words[3]))
            elif len(words) == 3:
                device.open_session(words[2])
                self.config, self.section, self.session = True, None, words[2]
            else:
                self.write(device.invalid)
            return True
        output = device.exec_command(command)
        self.write(output if output is not None else self.ios.invalid)
        return True

    def configure(self, command: str, faults: Faults) -> bool:
        if command in ("end", "\x1a"):
            self.config, self.section, self.session = False, None, None
            return True
        if command == "exit":
            if self.section is None:
                self.config, self.session = False, None
            self.section = None
            return True
        words = command.split()
        if self.session is not None and words[0] in ("commit", "abort"):
            return self.end_session(words)
        shown = command.split()[0] in ("show", "sh")
        if command.startswith("do ") or shown:
            output = None
            if not shown or self.ios.shows_in_config:
                output = self.ios.exec_command(command.removeprefix("do "))
            self.write(output if output is not None else self.ios.invalid)
            return True
        if faults.match("reject", command):
            self.write(self.ios.invalid)
            return True
        if self.session is not None and isinstance(self.device, EosDevice):
            self.section, output = self.device.session_command(self.session, self.section, command)
        else:
            self.section, output = self.ios.config_command(self.section, command)
        self.write(output)
        return True

    def end_session(self, words: list[str]) -> bool:
        """`commit`, `commit timer hh:mm:ss` or `abort` inside an EOS configuration session."""
        assert isinstance(self.device, EosDevice) and self.session is not None
        if words == ["abort"]:
            self.write(self.device.session_action(self.session, "abort"))
        elif words == ["commit"] or (len(words) == 3 and words[1] == "timer"):
            output = self.device.commit_session(self.session, words[2] if len(words) == 3 else None)
            self.write(output)
            if output:
                return True  # a malformed timer: still in the session
        else:
            self.write(self.device.invalid)
            return True
        self.config, self.section, self.session = False, None, None
        return True


class JunosSession(CliSession):
    """The modes of one SSH session to a Junos device: operational `>` and configuration `#`."""

    @property
    def junos(self) -> JunosDevice:
        """The device, for the Junos modes."""
        assert isinstance(self.device, JunosDevice)
        return self.device

    @property
    def prompt(self) -> str:
        user = f"{self.sim.username}@{self.junos.hostname}"
        return f"\n[edit]\n{user}# " if self.config else f"{user}> "

    async def execute(self, command: str, faults: Faults) -> bool:
        """Run one command; False when the session ends."""
        device = self.junos
        if self.config:
            return await self.configure_junos(command, faults)
        if command in ("exit", "quit", "logout"):
            self.process.exit(0)
            return False
        if command.split()[0] in ("configure", "edit") and len(command.split()) <= 2:
            self.config = True
            self.write("Entering configuration mode\n")
            return True
        output = device.operational(command)
        self.write(output if output is not None else UNKNOWN)
        return True

    async def configure_junos(self, command: str, faults: Faults) -> bool:
        device = self.junos
        words = command.split()
        if command in ("exit", "quit", "exit configuration-mode"):
            if device.candidate is not None and device.candidate != device.active:
                self.write(
                    "The configuration has been changed but not committed\n"
                    "Exit with uncommitted changes? [yes,no] (yes) "
                )
                answer = await self.read_line()
                self.write("\n")
                if answer is None:
                    return False
                if answer.strip().lower() in ("no", "n"):
                    return True
            self.config = False
            self.write("Exiting configuration mode\n")
            return True
        if faults.match("reject", command):
            self.write(SYNTAX)
        elif words[0] == "set" and len(words) > 1:
            device.set_line(command)
        elif words[0] == "delete" and len(words) > 1:
            if not device.delete(command[7:]):
                self.write("warning: statement not found\n")
        elif words[0] == "commit":
            self.write(self.commit(words[1:]))
        elif words[0] == "rollback":
            self.write(device.rollback(int(words[1]) if words[1:2] and words[1].isdigit() else 0))
        elif command in ("show | compare", "show|compare"):
            self.write(device.compare())
        elif words[0] == "show":
            self.write("\n".join(device.candidate or device.active) + "\n")
        elif words[0] == "run":
            output = device.operational(command[4:])
            self.write(output if output is not None else UNKNOWN)
        elif words[0] in ("top", "up"):
            pass
        else:
            self.write(SYNTAX)
        return True

    def commit(self, args: list[str]) -> str:
        device = self.junos
        if args[:1] == ["check"]:
            return "configuration check succeeds\n"
        minutes = None
        if args[:1] == ["confirmed"]:
            minutes = int(args[1]) if args[1:2] and args[1].isdigit() else 10
        output = device.commit(minutes)
        if "and-quit" in args:
            self.config = False
            output += "Exiting configuration mode\n"
        return output


async def _serve_session(sim: SimulatedDevice, process: asyncssh.SSHServerProcess[str]) -> None:
    sim.sessions += 1
    session = JunosSession if isinstance(sim.device, JunosDevice) else CliSession
    try:
        await session(sim, process).run()
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
