"""`genosd lab up|down|status`: the simulated devices on 127.0.0.1, their inventory and secrets.

Everything of a lab lives under `<state_dir>/lab`: the processes' state, the recordings, the
inventory (`<state_dir>/lab/inventory`) and the credentials (`<state_dir>/lab/secrets`), so two
labs with different state directories never overwrite each other's ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from genosd.errors import DeviceError, GenosdError
from genosd.lab.snmp import LAB_SNMP_DEVICES, write_lab_recording
from genosd.lab.topology import LAB_DATA, USERNAME, inventory_hosts
from genosd.processes import pid_alive
from genosd.snmp.client import Credentials, SnmpClient

V3_USER = "genosd-lab"


@dataclass
class LabState:
    """What `lab status` reports and `lab down` needs."""

    pid: int
    snmp_port: int
    inventory_dir: str
    secrets_dir: str
    started: float
    ssh_pid: int = 0
    ssh_ports: dict[str, int] = field(default_factory=dict)


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: a child of ours is reaped here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child
    if not pid_alive(pid):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class Lab:
    """The lab's files, inventory and secrets live in <state_dir>/lab."""

    def __init__(self, state_dir: Path):
        self.root = state_dir / "lab"
        self.inventory_dir = self.root / "inventory"
        self.secrets_dir = self.root / "secrets"
        self.state_file = self.root / "lab.json"

    def _recorded(self) -> LabState | None:
        """What the last `start` wrote, whether or not its processes still run."""
        if not self.state_file.is_file():
            return None
        return LabState(**json.loads(self.state_file.read_text()))

    def status(self) -> LabState | None:
        """The running lab (snmpsim and the SSH devices both alive), or None."""
        state = self._recorded()
        if state is None or not all(_process_alive(pid) for pid in (state.pid, state.ssh_pid)):
            return None
        return state

    def _write_credentials(self) -> dict[str, str]:
        self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys_file = self.root / "v3-keys.json"
        if keys_file.is_file():
            keys = json.loads(keys_file.read_text())
        else:
            keys = {"auth": secrets.token_hex(12), "priv": secrets.token_hex(12)}
            keys_file.write_text(json.dumps(keys))
            keys_file.chmod(0o600)
        files = {
            f"credentials__{d.name}__community": d.name
            for d in LAB_SNMP_DEVICES
            if d.version != "3"
        }
        files.update(
            {
                "credentials__lab-v3__username": V3_USER,
                "credentials__lab-v3__auth_protocol": "SHA",
                "credentials__lab-v3__auth_key": keys["auth"],
                "credentials__lab-v3__priv_protocol": "AES",
                "credentials__lab-v3__priv_key": keys["priv"],
            }
        )
        ssh_file = self.root / "ssh-credentials.json"
        if ssh_file.is_file():
            ssh = json.loads(ssh_file.read_text())
        else:
            ssh = {
                "password": secrets.token_urlsafe(16),
                "enable_secret": secrets.token_urlsafe(16),
            }
            ssh_file.write_text(json.dumps(ssh))
            ssh_file.chmod(0o600)
        files.update(
            {
                "ssh_credentials__lab-ssh__username": USERNAME,
                "ssh_credentials__lab-ssh__password": ssh["password"],
                "ssh_credentials__lab-ssh__enable_secret": ssh["enable_secret"],
            }
        )
        for name, value in files.items():
            path = self.secrets_dir / name
            path.write_text(value)
            path.chmod(0o600)
        return keys

    def _write_inventory(self, port: int, ssh_ports: dict[str, int]) -> None:
        self.inventory_dir.mkdir(parents=True, exist_ok=True)
        hosts: dict[str, dict[str, object]] = {}
        for device in LAB_SNMP_DEVICES:
            snmp = {"version": device.version, "port": port}
            if device.version == "3":
                snmp.update({"credential": "lab-v3", "context": device.name})
            else:
                snmp["credential"] = device.name
            hosts[device.name] = {
                "hostname": "127.0.0.1",
                "platform": device.platform,
                "groups": ["lab"],
                "data": {"role": device.role, "tags": [device.platform], "snmp": snmp},
            }
        for name, entry in inventory_hosts(ssh_ports, "lab-ssh").items():
            entry["groups"] = ["lab"]
            hosts[name] = entry
        groups = {"lab": {"data": {"site": "lab", "tags": ["lab"]}}}
        defaults = {"data": {"snmp": {"interval": 10, "timeout": 2, "retries": 1}, **LAB_DATA}}
        header = "# Written by `genosd lab up`; regenerated on every start.\n"
        for name, content in (("hosts", hosts), ("groups", groups), ("defaults", defaults)):
            (self.inventory_dir / f"{name}.yaml").write_text(
                header + yaml.safe_dump(content, sort_keys=False)
            )

    def _command(self, port: int, keys: dict[str, str]) -> list[str]:
        responder = shutil.which("snmpsim-command-responder") or str(
            Path(sys.executable).parent / "snmpsim-command-responder"
        )
        return [
            responder,
            f"--data-dir={self.root / 'data'}",
            f"--cache-dir={self.root / 'cache'}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
            f"--v3-user={V3_USER}",
            f"--v3-auth-key={keys['auth']}",
            "--v3-auth-proto=SHA",
            f"--v3-priv-key={keys['priv']}",
            "--v3-priv-proto=AES",
            f"--logging-method=file:{self.root / 'snmpsim.log'}",
            "--log-level=error",
        ]

    def _start_ssh(self, timeout: float) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
        """Start the SSH devices detached and wait for their ports."""
        ports_file = self.root / "ssh" / "ports.json"
        ports_file.unlink(missing_ok=True)
        log = open(self.root / "ssh.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [sys.executable, "-m", "genosd.lab.ssh_process", str(self.root)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not ports_file.is_file():
            if process.poll() is not None:
                raise GenosdError(
                    f"the SSH lab exited with status {process.returncode} "
                    f"(see {self.root / 'ssh.log'})"
                )
            if time.monotonic() > deadline:
                process.terminate()
                raise GenosdError(f"the SSH lab did not start within {timeout:.0f}s")
            time.sleep(0.1)
        return process, json.loads(ports_file.read_text())

    def start(self, *, port: int | None = None, timeout: float = 120.0) -> LabState:
        """Start snmpsim and the SSH devices detached, wait until they answer, write the inventory."""
        running = self.status()
        if running is not None:
            return running
        self.stop()  # half a lab (one process died): stop what is left, then start afresh
        for device in LAB_SNMP_DEVICES:
            write_lab_recording(device, self.root / "data")
        keys = self._write_credentials()
        port = port or free_udp_port()
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        log = open(self.root / "snmpsim.out", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            self._command(port, keys),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        state = LabState(
            process.pid, port, str(self.inventory_dir), str(self.secrets_dir), time.time()
        )
        try:
            asyncio.run(_wait_for_agent(port, LAB_SNMP_DEVICES[0].name, process, timeout))
            ssh, state.ssh_ports = self._start_ssh(timeout)
            state.ssh_pid = ssh.pid
        except BaseException:
            process.terminate()
            raise
        self._write_inventory(port, state.ssh_ports)
        self.state_file.write_text(json.dumps(asdict(state)))
        return state

    def stop(self) -> bool:
        """Stop the lab's processes (whichever still run); False if none was running."""
        state = self._recorded()
        if state is None:
            return False
        alive = [pid for pid in (state.pid, state.ssh_pid) if pid and _process_alive(pid)]
        for pid in alive:
            _stop_group(pid)
        self.state_file.unlink(missing_ok=True)
        return bool(alive)


def _stop_group(pid: int) -> None:
    """SIGTERM a detached process group, SIGKILL it after 5 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    for _ in range(50):
        if not _process_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


async def _wait_for_agent(
    port: int, community: str, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    client = SnmpClient("127.0.0.1", port, Credentials("2c", community=community.encode()), 1, 1)
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise GenosdError(f"snmpsim exited with status {process.returncode} (see its log)")
            try:
                await client.get(["1.3.6.1.2.1.1.3.0"])
                return
            except DeviceError:
                await asyncio.sleep(0.5)
    finally:
        client.close()
    raise GenosdError(f"snmpsim did not answer on 127.0.0.1:{port} within {timeout:.0f}s")
