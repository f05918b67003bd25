"""Real servers on 127.0.0.1 free ports, started by the tests and stopped after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# every daemon the tests start (in process or as a child) receives traps and syslog on free
# loopback ports, never on the machine's UDP 162 or 514
os.environ.setdefault("GENOSD_TRAPS__HOST", "127.0.0.1")
os.environ.setdefault("GENOSD_TRAPS__PORT", "0")
os.environ.setdefault("GENOSD_SYSLOG__HOST", "127.0.0.1")
os.environ.setdefault("GENOSD_SYSLOG__UDP_PORT", "0")
os.environ.setdefault("GENOSD_SYSLOG__TCP_PORT", "0")

from tests.servers import InfluxV1, RedisServer, free_tcp_port, start_snmpd, start_victoria


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
    process, url = start_victoria(tmp_path / "vm")
    yield url
    process.kill()
    process.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """redis-server on a free port, without persistence (stop() and start() it in a test)."""
    server = RedisServer(tmp_path / "redis", free_tcp_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[int]:
    """net-snmp snmpd in the foreground, community 'public', on a free UDP port."""
    process, port = start_snmpd(tmp_path)
    yield port
    process.terminate()
    process.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The built-in lab (snmpsim with moving counters), shared by the session."""
    from genosd.lab.manager import Lab

    root = tmp_path_factory.mktemp("lab")
    the_lab = Lab(root / "state")
    the_lab.start()
    yield the_lab
    the_lab.stop()


@pytest.fixture
async def ssh_lab(tmp_path: Path):
    """Two simulated IOS routers over real SSH (see tests/ssh_lab.py)."""
    from tests.ssh_lab import Lab

    lab = Lab(tmp_path / "ssh-lab")
    lab.directory.mkdir()
    await lab.start()
    yield lab
    await lab.close()


@pytest.fixture
async def topology_lab(tmp_path: Path):
    """lab-r1 (IOS), lab-sw1 (EOS), lab-rj1 (Junos) and lab-nx1 (NX-OS), over real SSH."""
    from tests.ssh_lab import Lab, topology_devices

    lab = Lab(tmp_path / "topology-lab")
    lab.directory.mkdir()
    await lab.start(topology_devices(minute=0.5))
    yield lab
    await lab.close()


@pytest.fixture
async def fake_ollama():
    """A server speaking Ollama's API on a free loopback port (tests/ollama_server.py)."""
    from tests.ollama_server import FakeOllama

    server = FakeOllama()
    await server.start()
    yield server
    await server.stop()
