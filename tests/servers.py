"""Real servers on 127.0.0.1 free ports, for the tests and the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from genosd.lab.manager import free_tcp_port, free_udp_port


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
        raise RuntimeError(f"{binary} is not installed: run tests/install-servers.sh")
    return path


@dataclass
class InfluxV1:
    """A running influxd 1.x that can be stopped and started again on the same data."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    http_extra: str = ""  # more [http] settings: auth-enabled = true, max-body-size = …

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
{self.http_extra}
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

    def query(
        self, q: str, db: str = "telegraf", auth: tuple[str, str] | None = None
    ) -> list[list]:
        r = httpx.get(
            self.url + "/query", params={"db": db, "q": q, "epoch": "ns"}, timeout=10, auth=auth
        )
        r.raise_for_status()
        series = r.json()["results"][0].get("series", [])
        return [row for s in series for row in s["values"]]

    def create_db(self, db: str = "telegraf", auth: tuple[str, str] | None = None) -> None:
        self.admin(f"CREATE DATABASE {db}", auth)

    def admin(self, q: str, auth: tuple[str, str] | None = None) -> None:
        httpx.post(self.url + "/query", params={"q": q}, timeout=10, auth=auth).raise_for_status()


def start_snmpd(
    directory: Path, extra_config: str = "", port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """net-snmp snmpd in the foreground, community 'public', on a free UDP port (or `port`);
    waits until it answers. Its state (engine ID, boots, users) lives in `directory`/state, so
    starting it again on the same directory is a restart of the same agent."""
    port = port or free_udp_port()
    conf = directory / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:127.0.0.1:{port}\nrocommunity public 127.0.0.1\n{extra_config}"
    )
    (directory / "state").mkdir(exist_ok=True)
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(directory / "state")}
    process = subprocess.Popen(
        [need("snmpd"), "-f", "-C", "-c", str(conf), "-Lf", str(directory / "snmpd.log")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = [need("snmpget"), "-v2c", "-cpublic", "-t", "0.5", "-r", "0"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = subprocess.run(
            [*probe, f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"], capture_output=True
        )
        if done.returncode == 0:
            return process, port
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("snmpd did not answer within 20 s")


@contextlib.asynccontextmanager
async def snmpsim(
    data: Path, cache: Path, *options: str, address: str = "127.0.0.1", port: int | None = None
) -> AsyncIterator[int]:
    """snmpsim (pysnmp's agent) serving the recordings in `data` on a free UDP port (or `port`)
    of `address`: the port. It answers once it has indexed them, which takes a moment: callers
    retry their first request."""
    port = port or free_udp_port()
    agent = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "snmpsim-command-responder"),
        f"--data-dir={data}",
        f"--cache-dir={cache}",
        f"--agent-udpv4-endpoint={address}:{port}",
        "--logging-method=null",
        *options,
        env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},
    )
    try:
        yield port
    finally:
        agent.terminate()
        await agent.wait()


def start_http_server(
    binary: str, args: list[str], health_path: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `binary` with `args` ({port} is filled in) on a free port; wait for `health_path`."""
    port = free_tcp_port()
    process = subprocess.Popen(
        [need(binary), *(arg.format(port=port) for arg in args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + health_path)
    except RuntimeError:
        process.kill()
        raise
    return process, url


def start_victoria(directory: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """VictoriaMetrics (speaks /api/v2/write) on a free port; returns the process and its URL."""
    return start_http_server(
        "victoria-metrics",
        [
            "-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={directory}",
            "-retentionPeriod=1",
            "-search.latencyOffset=0s",
            *extra,
        ],
        "/health",
    )


@dataclass
class RedisServer:
    """redis-server on a fixed loopback port, without persistence; stop and start it again."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                need("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not come up")

    def stop(self) -> None:
        """Kill it (as a crash would)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
