"""Three `genosd run` nodes sharing 40 SNMP devices through a real redis-server.

The agents are the lab responder (one UDP socket per device on 127.4.0.x), which records when each
device is polled; a poll's slot follows from the device's phase, so the test counts polls per
device and slot. The story: all three poll, each device exactly once per slot; a node is
SIGKILLed and another SIGSTOPped beyond its lease, and their devices move without a slot polled
twice; Redis is killed (nodes stop polling: cut off) and started empty again (they rejoin and
poll without being restarted).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from genosd.collectors.scheduler import phase_of
from genosd.lab.responder import Responder, ResponderThread, simulated
from tests.servers import RedisServer, free_tcp_port, free_udp_port, wait_http

pytestmark = pytest.mark.slow

INTERVAL = 3.0
NODE_TTL = 1.5
DEVICES = 40
GENOSD = str(Path(sys.executable).parent / "genosd")


def _setup(directory: Path, agent_port: int, redis_url: str) -> Path:
    inventory = directory / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text(
        "".join(f"{d.name}: {{hostname: {d.address}}}\n" for d in simulated("127.4.0.1", DEVICES))
    )
    (inventory / "defaults.yaml").write_text(
        f"data:\n  snmp: {{version: '2c', credential: ro, port: {agent_port}, "
        f"interval: {INTERVAL}, timeout: 0.5, retries: 0}}\n"
    )
    (directory / "secrets").mkdir()
    (directory / "secrets" / "credentials__ro__community").write_text("public")
    config = directory / "genosd.yaml"
    config.write_text(
        f"inventory_dir: {inventory}\nsecrets_dir: {directory / 'secrets'}\n"
        "ssh: {backup_schedule: '', facts_interval: 0}\n"
        "traps: {enabled: false}\nsyslog: {enabled: false}\n"
        f"cluster: {{backend: redis, redis_url: '{redis_url}', heartbeat: 0.3, "
        f"node_ttl: {NODE_TTL}}}\n"
    )
    return config


class Node:
    """One `genosd run` process with a state directory and API port of its own."""

    def __init__(self, directory: Path, config: Path, name: str, role: str = "viewer"):
        self.name = name
        self.port = free_tcp_port()
        state = directory / name
        env = {
            **os.environ,
            "GENOSD_CLUSTER__NODE": name,
            "GENOSD_STATE_DIR": str(state),
            "GENOSD_API__PORT": str(self.port),
        }
        state.mkdir()
        created = subprocess.run(
            [GENOSD, "keys", "create", "--role", role, "--config", str(config), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        import json

        self.key = json.loads(created.stdout)["secret"]
        self.log = open(directory / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [GENOSD, "run", "--config", str(config)],
            env=env,
            stderr=self.log,
        )

    def get(self, path: str) -> dict:
        """GET `path` of this node's API, as JSON."""
        response = httpx.get(
            f"http://127.0.0.1:{self.port}{path}",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def cluster(self) -> dict:
        """GET /api/v1/cluster."""
        return self.get("/api/v1/cluster")

    def stop(self) -> None:
        """Terminate (or kill) and close the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _slot_counts(responder: Responder, since: float, until: float) -> dict[tuple[str, int], int]:
    """Polls per (device address, slot index) that started between two times."""
    counts: Counter[tuple[str, int]] = Counter()
    for device in responder.devices.values():
        phase = phase_of(device.name, INTERVAL)
        for at in responder.polls.get(device.address, ()):
            if since <= at < until:
                counts[(device.address, math.floor((at - phase) / INTERVAL))] += 1
    return counts


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _assert_each_slot_polled_once(responder: Responder, since: float, until: float) -> None:
    """Every device polled in every slot that lies wholly inside the window, and never twice."""
    counts = _slot_counts(responder, since, until)
    doubled = {k: n for k, n in counts.items() if n > 1}
    assert not doubled, f"polled twice in one slot: {doubled}"
    for device in responder.devices.values():
        phase = phase_of(device.name, INTERVAL)
        first = math.ceil((since - phase) / INTERVAL)
        last = math.floor((until - phase) / INTERVAL) - 1  # the slot's poll may still be running
        for slot in range(first, last + 1):
            assert counts.get((device.address, slot)) == 1, (device.name, slot, since, until)


def test_three_nodes_share_devices_and_survive_kill_stop_and_redis_restart(tmp_path):
    redis = RedisServer(tmp_path / "redis", free_tcp_port())
    redis.start()
    agent_port = free_udp_port()
    config = _setup(tmp_path, agent_port, redis.url)
    responder = Responder(simulated("127.4.0.1", DEVICES), agent_port)
    nodes: list[Node] = []
    with ResponderThread(responder):
        try:
            nodes = [Node(tmp_path, config, f"n{i}") for i in (1, 2, 3)]
            for node in nodes:
                wait_http(f"http://127.0.0.1:{node.port}/api/v1/health", timeout=60)
            n1, n2, n3 = nodes
            _wait(lambda: len(n1.cluster()["nodes"]) == 3, 20, "three nodes")
            picture = n1.cluster()
            assert picture["backend"] == "redis" and picture["unowned_devices"] == 0
            assert sum(n["devices"] for n in picture["nodes"]) == DEVICES
            assert all(n["devices"] > 0 for n in picture["nodes"])
            assert sum(1 for n in nodes if n.cluster()["leader"] == picture["leader"]) == 3

            # steady state: every device exactly once per slot
            start = time.time()
            time.sleep(3 * INTERVAL)
            _assert_each_slot_polled_once(responder, start, time.time())

            # SIGKILL n3 (its polls may be in flight): its devices move to n1 and n2
            n3.process.kill()
            n3.process.wait()
            killed = time.time()
            _wait(lambda: len(n1.cluster()["nodes"]) == 2, 10, "n3 to leave")
            moved = time.time() + INTERVAL  # the next slot after the others noticed
            assert moved - killed < NODE_TTL + 3 + INTERVAL  # noticed within a few beats
            time.sleep(3 * INTERVAL)
            _assert_each_slot_polled_once(responder, moved, time.time())
            assert sum(n["devices"] for n in n1.cluster()["nodes"]) == DEVICES

            # SIGSTOP n2 beyond its lease, then let it go on: no slot polled twice meanwhile
            n2.process.send_signal(signal.SIGSTOP)
            stopped = time.time()
            time.sleep(NODE_TTL + 2 * INTERVAL)
            assert [n["node"] for n in n1.cluster()["nodes"]] == ["n1"]
            n2.process.send_signal(signal.SIGCONT)
            _wait(lambda: len(n1.cluster()["nodes"]) == 2, 10, "n2 to rejoin")
            time.sleep(2 * INTERVAL)
            counts = _slot_counts(responder, stopped, time.time())
            assert not {k: n for k, n in counts.items() if n > 1}
            rejoined = time.time()
            time.sleep(2 * INTERVAL)
            _assert_each_slot_polled_once(responder, rejoined, time.time())

            # Redis gone: the nodes are cut off and stop polling within node_ttl
            redis.stop()
            cut = time.time()
            time.sleep(NODE_TTL + INTERVAL)
            late = _slot_counts(responder, cut + NODE_TTL + 1.0, time.time())
            assert not late, f"polled while cut off from Redis: {late}"
            assert n1.cluster()["active"] is False

            # an empty Redis again: they rejoin and poll, nobody restarted
            redis.start()
            _wait(lambda: len(n1.cluster()["nodes"]) == 2, 15, "nodes to rejoin Redis")
            back = time.time()
            time.sleep(2 * INTERVAL)
            _assert_each_slot_polled_once(responder, back + INTERVAL, time.time())
            assert all(node.process.poll() is None for node in (n1, n2))
        finally:
            for node in nodes:
                node.stop()
            redis.stop()
