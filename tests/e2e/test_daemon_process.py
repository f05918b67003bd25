"""The daemon as a real process: systemd notify protocol, SIGHUP reload, SIGTERM, exit 78."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_tcp_port


def _genosd(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "genosd"), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _receive(sock: socket.socket, wanted: str, timeout: float = 60.0) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            break
        seen.append(message)
        if wanted in message:
            return seen
    raise AssertionError(f"{wanted!r} not received; got {seen}")


def test_bad_config_exits_78_naming_the_line(tmp_path: Path):
    (tmp_path / "genosd.yaml").write_text("api:\n  port: -1\n")
    proc = _genosd("run", env={**os.environ}, cwd=tmp_path)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 78
    assert b"genosd.yaml:2: api.port" in out


def test_daemon_speaks_sd_notify_reloads_and_stops_cleanly(tmp_path: Path, lab):
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    port = free_tcp_port()
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {lab.inventory_dir}\n"
    )
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(notify_path),
        "GENOSD_API__PORT": str(port),
        "GENOSD_SECRETS_DIR": str(lab.secrets_dir),
        "WATCHDOG_USEC": "2000000",
    }
    proc = _genosd("run", "--config", str(tmp_path / "genosd.yaml"), env=env, cwd=tmp_path)
    try:
        _receive(sock, "READY=1")
        env["WATCHDOG_PID"] = str(proc.pid)
        assert "WATCHDOG=1" in "".join(_receive(sock, "WATCHDOG=1", timeout=10))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            devices = httpx.get(f"http://127.0.0.1:{port}/api/v1/devices").json()["items"]
            if devices and all(d["status"] == "up" for d in devices):
                break
            time.sleep(0.5)
        assert {d["status"] for d in devices} == {"up"}
        series = httpx.get(f"http://127.0.0.1:{port}/api/v1/devices/lab-ios-sw1/metrics").json()[
            "series"
        ]
        assert {"snmp", "interface", "snmp_cpu", "genosd_poll"} <= {
            s["measurement"] for s in series
        }
        proc.send_signal(signal.SIGHUP)
        messages = _receive(sock, "STATUS=reloaded", timeout=20)
        assert any("RELOADING=1" in m and "MONOTONIC_USEC=" in m for m in messages)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        _receive(sock, "STOPPING=1", timeout=20)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
