"""Real servers on 127.0.0.1 free ports, started by the tests and stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def need(binary: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None
    )
    if path is None:
        pytest.fail(f"{binary} is not installed: run tests/install-servers.sh")
    return path


@dataclass
class InfluxV1:
    """A running influxd 1.x that can be stopped and started again on the same data."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.directory / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_tcp_port()}"
[meta]
  dir = "{self.directory}/meta"
[data]
  dir = "{self.directory}/data"
  wal-dir = "{self.directory}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
"""
        )
        self.process = subprocess.Popen(
            [need("influxd"), "-config", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(self.url + "/ping")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def query(self, q: str, db: str = "telegraf") -> list[list]:
        r = httpx.get(self.url + "/query", params={"db": db, "q": q, "epoch": "ns"}, timeout=10)
        r.raise_for_status()
        series = r.json()["results"][0].get("series", [])
        return [row for s in series for row in s["values"]]

    def create_db(self, db: str = "telegraf") -> None:
        httpx.post(
            self.url + "/query", params={"q": f"CREATE DATABASE {db}"}, timeout=10
        ).raise_for_status()


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxV1]:
    server = InfluxV1(tmp_path / "influx", free_tcp_port())
    server.directory.mkdir()
    server.start()
    server.create_db()
    yield server
    server.stop()


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[str]:
    port = free_tcp_port()
    process = subprocess.Popen(
        [
            need("victoria-metrics"),
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={tmp_path / 'vm'}",
            "-retentionPeriod=1",
            "-search.latencyOffset=0s",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/health")
    yield url
    process.kill()
    process.wait()


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[int]:
    """net-snmp snmpd in the foreground, community 'public', on a free UDP port."""
    port = free_udp_port()
    conf = tmp_path / "snmpd.conf"
    conf.write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity public 127.0.0.1\n")
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [need("snmpd"), "-f", "-C", "-c", str(conf), "-Lf", str(tmp_path / "snmpd.log")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        probe = subprocess.run(
            [
                need("snmpget"),
                "-v2c",
                "-cpublic",
                "-t",
                "0.5",
                "-r",
                "0",
                f"127.0.0.1:{port}",
                "1.3.6.1.2.1.1.3.0",
            ],
            capture_output=True,
        )
        if probe.returncode == 0:
            break
        time.sleep(0.2)
    yield port
    process.terminate()
    process.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The built-in lab (snmpsim with moving counters), shared by the session."""
    from genosd.lab.manager import Lab

    root = tmp_path_factory.mktemp("lab")
    the_lab = Lab(root / "state", root / "inventory")
    the_lab.start()
    yield the_lab
    the_lab.stop()
