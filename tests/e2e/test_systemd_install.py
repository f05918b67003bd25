"""The documented systemd install, for real: systemd/install.sh lays out user, directories and unit;
the unit's ExecStart then runs as the unprivileged `genosd` user the way systemd would start it
(StateDirectory, LoadCredential in directory form, EnvironmentFile, NOTIFY_SOCKET, UMask).

systemd itself does not run in the test machine, so this test does what the unit tells it to; the
paths of the unit are mapped under a temporary root. Needs root (to create the user) and the
system's python3 with venv (the test interpreter may live where the service user cannot read).
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_tcp_port

REPO = Path(__file__).parents[2]
UNIT = REPO / "systemd" / "genosd.service"
SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path(SYSTEM_PYTHON).exists(),
    reason="needs root and the system's python3",
)


def _unit() -> dict[str, list[str]]:
    """The [Service] section; repeated keys keep every value."""
    service: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            service.setdefault(key, []).append(value)
    return service


@pytest.fixture
def root() -> Iterator[Path]:
    """A root directory the service user can traverse (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="genosd-root-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _venv(root: Path) -> Path:
    """A venv of the system's python3 that sees this checkout and its dependencies."""
    venv = root / "opt" / "genosd"
    made = subprocess.run(
        [SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"python3 -m venv is not available: {made.stderr.strip()}")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / version / "site-packages"
    deps = Path(sys.prefix) / "lib" / version / "site-packages"
    (site / "genosd-checkout.pth").write_text(f"{deps}\n{REPO}\n")
    script = venv / "bin" / "genosd"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nfrom genosd.cli import main\nmain()\n")
    script.chmod(0o755)
    return venv


def _mapped(value: str, root: Path) -> str:
    return value.replace("/opt/genosd", str(root / "opt/genosd")).replace(
        "/etc/genosd", str(root / "etc/genosd")
    )


class Service:
    """What systemd prepares for the unit before it runs ExecStart."""

    def __init__(self, root: Path, unit: dict[str, list[str]]):
        self.root, self.unit = root, unit
        user = pwd.getpwnam(unit["User"][0])
        self.uid, self.gid = user.pw_uid, user.pw_gid
        [state_dir] = unit["StateDirectory"]
        self.state = root / "var" / "lib" / state_dir
        self.state.mkdir(parents=True, exist_ok=True)
        os.chown(self.state, self.uid, self.gid)
        self.state.chmod(int(unit["StateDirectoryMode"][0], 8))
        self.notify_path = root / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify_path.chmod(0o777)

    def credentials(self) -> Path:
        """LoadCredential=ID:DIR — every file of DIR as ID_<file>, readable by the service only."""
        [spec] = self.unit["LoadCredential"]
        ident, source = spec.split(":", 1)
        target = self.root / "run" / "credentials" / "genosd.service"
        target.mkdir(parents=True, exist_ok=True)
        for path in Path(_mapped(source, self.root)).iterdir():
            copy = target / f"{ident}_{path.name}"
            copy.write_bytes(path.read_bytes())
            os.chown(copy, self.uid, self.gid)
            copy.chmod(0o400)
        os.chown(target, self.uid, self.gid)
        target.chmod(0o500)
        return target

    def environment(self, credentials: Path) -> dict[str, str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "STATE_DIRECTORY": str(self.state),
            "CREDENTIALS_DIRECTORY": str(credentials),
            "NOTIFY_SOCKET": str(self.notify_path),
            "HOME": str(self.state),
        }
        for spec in self.unit.get("EnvironmentFile", []):
            path = Path(_mapped(spec.lstrip("-"), self.root))
            for line in path.read_text().splitlines() if path.exists() else []:
                if line.strip() and not line.startswith("#"):
                    key, value = line.split("=", 1)
                    env[key] = value
        return env

    def start(self, env: dict[str, str]) -> subprocess.Popen[str]:
        """ExecStart as User=/Group= with UMask=."""
        [exec_start] = self.unit["ExecStart"]
        return subprocess.Popen(
            shlex.split(_mapped(exec_start, self.root)),
            env=env,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            umask=int(self.unit["UMask"][0], 8),
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_for(
        self, wanted: str, process: subprocess.Popen[str], timeout: float = 60.0
    ) -> list[str]:
        """sd_notify messages until one contains `wanted` (fails early if the service exits)."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            self.notify.settimeout(0.5)
            try:
                seen.append(self.notify.recv(4096).decode())
            except TimeoutError:
                continue
            if wanted in seen[-1]:
                return seen
        output = process.stdout.read() if process.poll() is not None and process.stdout else ""
        raise AssertionError(f"{wanted!r} not received; got {seen}; service output:\n{output}")


def test_the_documented_install_runs_as_the_service_user(root: Path, snmpd: int):
    venv = _venv(root)
    installed = subprocess.run(
        ["sh", str(REPO / "systemd" / "install.sh")],
        env={**os.environ, "ROOT": str(root), "VENV": str(venv)},
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    etc = root / "etc" / "genosd"
    assert (root / "etc/systemd/system/genosd.service").read_text() == UNIT.read_text()
    assert oct(etc.stat().st_mode & 0o777) == "0o750"
    assert oct((etc / "credentials").stat().st_mode & 0o777) == "0o700"
    assert (etc / "templates" / "ios" / "base.j2").is_file()
    # the operator's part: settings paths, a device, its community as a credential file
    settings = etc / "genosd.yaml"
    port = free_tcp_port()
    settings.write_text(_mapped(settings.read_text(), root).replace("port: 8470", f"port: {port}"))
    (etc / "inventory" / "hosts.yaml").write_text(
        f"sw1: {{hostname: 127.0.0.1, platform: ios, data: {{snmp: {{port: {snmpd}, "
        "credential: lab, interval: 1}}}\n"
    )
    secret = etc / "credentials" / "credentials__lab__community"
    secret.write_text("public\n")
    secret.chmod(0o600)

    unit = _unit()
    service = Service(root, unit)
    env = service.environment(service.credentials())
    process = service.start(env)
    try:
        service.wait_for("READY=1", process)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").json()["status"] == "ok"
        create = ["keys", "create", "--json", "--role", "viewer", "--config", str(settings)]
        created = subprocess.run(
            [str(venv / "bin" / "genosd"), *create],
            capture_output=True,
            text=True,
            check=True,
            user=service.uid,
            group=service.gid,
            env=env,
        )
        secret_key = json.loads(created.stdout)["secret"]
        deadline = time.monotonic() + 30
        while True:
            device = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/devices/sw1",
                headers={"Authorization": f"Bearer {secret_key}"},
            ).json()
            if device["status"] == "up" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert device["status"] == "up", device  # polled with the community from LoadCredential
        state_files = {p.name for p in service.state.iterdir()}
        assert {"genosd.sqlite3", "metrics.sqlite3"} <= state_files
        assert all(p.stat().st_uid == service.uid for p in service.state.iterdir())
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read() if process.stdout else ""
    assert "Traceback" not in output and "listening on" in output

    # a credentials directory the service user cannot read: a clear message and 78, no traceback
    locked = root / "locked"
    locked.mkdir(mode=0o700)
    failing = service.start({**env, "CREDENTIALS_DIRECTORY": str(locked)})
    output, _ = failing.communicate(timeout=60)
    assert failing.returncode == 78, output
    assert "is not readable by genosd" in output and "Traceback" not in output
