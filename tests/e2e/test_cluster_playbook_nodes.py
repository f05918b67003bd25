"""A playbook's hosts split across three `genosd run` processes sharing a real redis-server: the
run started on one node has its `show` step run in parts by all three, and a node SIGKILLed while
it holds parts leaves the run complete (its parts taken over by the others). The devices are the
built-in lab's SSH topology (`genosd lab up`)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from redis import Redis

from genosd.lab.topology import NODES
from tests.e2e.test_cluster_nodes import Node
from tests.servers import RedisServer

pytestmark = pytest.mark.slow

SSH_DEVICES = sorted(node.name for node in NODES)
# six shows one after another per host: a part lasts seconds, time to kill its node in it
PLAYBOOK = f"""name: versions
targets: {{name: {SSH_DEVICES}}}
steps:
  - name: version
    show: {{commands: [show version]}}
    loop: [1, 2, 3, 4, 5, 6]
"""


def _setup(directory: Path, lab, redis_url: str) -> Path:
    playbooks = directory / "playbooks"
    playbooks.mkdir()
    (playbooks / "versions.yaml").write_text(PLAYBOOK)
    config = directory / "genosd.yaml"
    config.write_text(
        f"inventory_dir: {lab.inventory_dir}\nsecrets_dir: {lab.secrets_dir}\n"
        f"playbooks_dir: {playbooks}\n"
        "ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n"
        "traps: {enabled: false}\nsyslog: {enabled: false}\n"
        f"cluster: {{backend: redis, redis_url: '{redis_url}', heartbeat: 0.3, node_ttl: 1.5, "
        "work_lease: 2}\n"
    )
    return config


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _members(node: Node) -> int:
    try:
        return len(node.cluster()["nodes"])
    except httpx.HTTPError:
        return 0


def test_a_node_killed_mid_run_leaves_the_playbook_run_complete(
    lab, tmp_path: Path, redis_server: RedisServer
):
    config = _setup(tmp_path, lab, redis_server.url)
    nodes = [Node(tmp_path, config, name, role="operator") for name in ("a", "b", "c")]
    probe = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        _until(lambda: all(_members(n) == 3 for n in nodes), 60, "three nodes in the cluster")
        asking = nodes[0]
        started = httpx.post(
            f"http://127.0.0.1:{asking.port}/api/v1/playbooks/versions/runs",
            headers={"Authorization": f"Bearer {asking.key}"},
            json={},
            timeout=10,
        )
        assert started.status_code == 202, started.text
        run = started.json()["id"]

        def holder() -> tuple[str, int] | None:
            for consumer in probe.xinfo_consumers("genosd:work:default", "genosd"):
                if consumer["name"] != "a" and consumer["pending"] > 0:
                    return consumer["name"], consumer["pending"]
            return None

        victim, _ = _until(holder, 30, "another node running a part")
        killed = next(n for n in nodes if n.name == victim)
        killed.process.kill()  # SIGKILL mid-part: no answer, no acknowledgement
        finished = _until(
            lambda: (r := asking.get(f"/api/v1/runs/{run}"))["finished_at"] and r, 120, "the run"
        )
        assert finished["status"] == "ok", finished["stopped_because"]
        [step] = [s for s in finished["steps"] if s["step"] == "version"]
        assert sorted(step["hosts"]) == SSH_DEVICES
        assert all(h["status"] == "ok" for h in step["hosts"].values()), step["hosts"]
        ran_on = {h["node"] for h in step["hosts"].values()}
        assert victim not in ran_on and ran_on <= {"a", "b", "c"}
        outputs = [r["output"] for h in step["hosts"].values() for r in h["data"]["results"]]
        assert len(outputs) == 6 * len(SSH_DEVICES) and all(outputs)
    finally:
        probe.close()
        for node in nodes:
            node.stop()
