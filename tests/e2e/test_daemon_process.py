"""The daemon as a real process: systemd notify protocol, SIGHUP reload, SIGTERM, exit 78."""

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_tcp_port


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


def test_check_config_reports_every_problem_with_file_and_line(tmp_path: Path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "genosd.yaml").write_text(
        "inventory_dir: inventory\npoller:\n  interval: 0.5\ninflux:\n  url: influx:8086\n"
    )
    (tmp_path / "inventory" / "hosts.yaml").write_text(
        "r1:\n  hostname: 10.0.0.1\n  data:\n    snmp:\n      version: 4\n      community: x\n"
    )
    proc = _genosd("check-config", env={**os.environ, "COLUMNS": "60"}, cwd=tmp_path)
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 78
    assert (
        "genosd.yaml:3: poller.interval" in out
        and "genosd.yaml:5: influx.url: Value error, must start with http" in out
    )
    # settings fixed: now the inventory is checked, every problem at once, one line each
    (tmp_path / "genosd.yaml").write_text("inventory_dir: inventory\n")
    proc = _genosd("check-config", env={**os.environ, "COLUMNS": "60"}, cwd=tmp_path)
    lines = proc.communicate(timeout=60)[0].decode().splitlines()
    assert proc.returncode == 78
    assert any(
        line.startswith("  - inventory/hosts.yaml:6: r1.data.snmp.community: ") for line in lines
    )
    assert any(
        line.startswith("  - inventory/hosts.yaml:5: r1.data.snmp.version: ") for line in lines
    )
    (tmp_path / "inventory" / "hosts.yaml").write_text(
        "r1:\n  hostname: 10.0.0.1\n  data:\n    snmp:\n      version: 3\n      enabled: false\n"
    )
    proc = _genosd("check-config", env={**os.environ}, cwd=tmp_path)
    assert proc.wait(timeout=60) == 0


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
    created = subprocess.run(
        [
            *(str(Path(sys.executable).parent / "genosd"), "keys", "create", "--role", "viewer"),
            *("--config", str(tmp_path / "genosd.yaml"), "--json"),
        ],
        capture_output=True,
        env=env,
        check=True,
    )
    auth = {"Authorization": "Bearer " + json.loads(created.stdout)["secret"]}
    proc = _genosd("run", "--config", str(tmp_path / "genosd.yaml"), env=env, cwd=tmp_path)
    try:
        _receive(sock, "READY=1")
        env["WATCHDOG_PID"] = str(proc.pid)
        assert "WATCHDOG=1" in "".join(_receive(sock, "WATCHDOG=1", timeout=10))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = httpx.get(f"http://127.0.0.1:{port}/api/v1/devices", headers=auth).json()
            devices = [d for d in listed["items"] if d["snmp"]]  # the SSH devices have no SNMP
            if devices and all(d["status"] == "up" for d in devices):
                break
            time.sleep(0.5)
        assert {d["status"] for d in devices} == {"up"}
        series = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/devices/lab-ios-sw1/metrics", headers=auth
        ).json()["series"]
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


def _prometheus_value(port: int, name: str) -> float:
    """The metric's value, summed over its labels."""
    total = 0.0
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith((name + " ", name + "{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _spooled_per_measurement(spool: Path) -> tuple[dict[str, int], int]:
    """Points committed to the spool and not yet delivered, by measurement; and the newest time."""
    db = sqlite3.connect(spool)
    try:
        lines = [row[0] for row in db.execute("SELECT line FROM points WHERE pending = 1")]
    finally:
        db.close()
    counts: dict[str, int] = {}
    for line in lines:
        measurement = re.split(r"(?<!\\)[, ]", line, maxsplit=1)[0]
        counts[measurement] = counts.get(measurement, 0) + 1
    newest = max(int(line.rsplit(" ", 1)[1]) for line in lines)
    return counts, newest


def test_kill_9_with_influxdb_down_loses_nothing_committed(tmp_path: Path, lab, influxdb):
    influxdb.stop()  # the sink is down from the start: every point must wait in the spool
    port = free_tcp_port()
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {lab.inventory_dir}\n"
        f"influx:\n  url: {influxdb.url}\n  api: v1\n  database: telegraf\n"
        "  retry_max_delay: 1\n"
    )
    env = {**os.environ, "GENOSD_API__PORT": str(port), "GENOSD_SECRETS_DIR": str(lab.secrets_dir)}
    args = ("run", "--config", str(tmp_path / "genosd.yaml"))
    proc = _genosd(*args, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        # points reach the spool before the writer's first (failing) attempt: wait for both
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (
                    _prometheus_value(port, "genosd_spool_points") >= 100
                    and _prometheus_value(port, "genosd_sink_write_failures_total") >= 1
                ):
                    break
            time.sleep(0.5)
        else:
            raise AssertionError("the daemon never spooled 100 points after a failed write")
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health").json()["status"] == "ok"
        proc.kill()  # SIGKILL: no flush, no checkpoint
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    spooled, newest = _spooled_per_measurement(tmp_path / "state" / "metrics.sqlite3")
    assert sum(spooled.values()) >= 100
    influxdb.start()
    proc = _genosd(*args, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        delivered: dict[str, int] = {}
        while time.monotonic() < deadline:
            delivered = {
                m: len(influxdb.query(f'SELECT * FROM "{m}" WHERE time <= {newest}'))
                for m in spooled
            }
            if delivered == spooled:
                break
            time.sleep(1)
        # every point committed before the kill arrived, once (nothing older than the kill is extra)
        assert delivered == spooled
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_keys_and_audit_from_the_command_line(tmp_path: Path):
    (tmp_path / "genosd.yaml").write_text(f"state_dir: {tmp_path / 'state'}\n")
    genosd = str(Path(sys.executable).parent / "genosd")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [genosd, *args, "--config", str(tmp_path / "genosd.yaml")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )

    created = cli("keys", "create", "--role", "operator", "--name", "ci", "--json")
    key = json.loads(created.stdout)
    assert created.returncode == 0 and key["secret"].startswith("gnd_")
    listed = cli("keys", "list", "--json")
    assert key["secret"] not in listed.stdout
    assert [k["prefix"] for k in json.loads(listed.stdout)] == [key["prefix"]]
    assert cli("keys", "revoke", key["prefix"]).returncode == 0
    assert json.loads(cli("keys", "list", "--json").stdout) == []
    assert cli("keys", "create", "--role", "root").returncode == 2  # typer: bad choice
    exported = cli("audit", "export", "--format", "csv").stdout.strip().splitlines()
    assert [line.split(",")[3] for line in exported[1:]] == ["create_api_key", "revoke_api_key"]
    assert cli("audit", "verify").returncode == 0
