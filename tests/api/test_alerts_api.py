"""Alerts and incidents in the daemon, end to end on real sockets: a kernel interface polled by
net-snmp's snmpd goes down and up, a BGP neighbour drops in a `logger` message, traps come from
`snmptrap`; one incident per device, acknowledged over the API, resolved by itself; signed
webhooks (checked by a local receiver), retried when it fails; silences."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup
from tests.servers import need, start_snmpd

RULES = """
- name: interface_down
  when: metric
  measurement: interface
  field: ifOperStatus
  not_equals: 1
  where: {ifAdminStatus: 1}
  tags: {ifName: "IFNAME"}
  key: [device, ifName]
  severity: major
  summary: "{device} {ifName} is down while administratively up"
- name: bgp_neighbor_down
  when: event
  source: syslog
  match: {kind: bgp_down}
  resolve: {kind: bgp_up}
  same: [neighbor]
  severity: critical
  key: [device, neighbor]
  summary: "{device} BGP neighbour {neighbor} went down"
- name: link_down_trap
  when: event
  source: traps
  match: {name: linkDown}
  resolve: {name: linkUp}
  same: [ifIndex]
  severity: major
  key: [device, ifIndex]
"""


@pytest.fixture
def veth() -> Iterator[tuple[str, str]]:
    """A veth pair in this machine's kernel: taking the peer down takes ours' carrier down
    while it stays administratively up, as a cable pulled at the far end does."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is not installed")
    ours, peer = f"gt{uuid.uuid4().hex[:6]}a", f"gt{uuid.uuid4().hex[:6]}b"
    made = subprocess.run(
        ["ip", "link", "add", ours, "type", "veth", "peer", "name", peer], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create a veth pair here: {made.stderr.decode().strip()}")
    try:
        for name in (ours, peer):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield ours, peer
    finally:
        subprocess.run(["ip", "link", "del", ours], capture_output=True)


class Receiver:
    """A webhook receiver that checks signatures; `fail_first` answers 500 that many times."""

    def __init__(self, secret: bytes | None, fail_first: int = 0):
        self.secret = secret
        self.fail_first = fail_first
        self.got: list[dict[str, Any]] = []
        self.attempts = 0
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.read()
        if self.secret is not None:
            stamp = request.headers["X-Genosd-Timestamp"]
            expected = (
                "sha256="
                + hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            )
            fresh = abs(time.time() - int(stamp)) < 300
            if not (fresh and hmac.compare_digest(expected, request.headers["X-Genosd-Signature"])):
                self.bad_signatures += 1
                return web.Response(status=401)
        if self.attempts <= self.fail_first:
            return web.Response(status=500, text="not now")
        self.got.append(json.loads(body))
        return web.Response(status=204)


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receiver, Receiver, str, str]]:
    signed, flaky = Receiver(b"hook-secret"), Receiver(None, fail_first=1)
    app = web.Application()
    app.router.add_post("/signed", signed.handle)
    app.router.add_post("/flaky", flaky.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    yield signed, flaky, f"{base}/signed", f"{base}/flaky"
    await runner.cleanup()


async def _until(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _link(name: str, state: str) -> None:
    subprocess.run(["ip", "link", "set", name, state], check=True)


def _logger(port: int, text: str) -> None:
    subprocess.run(
        [need("logger"), "-n", "127.0.0.1", "-P", str(port), "-d", "--rfc3164", "-t", "bgpd", text],
        check=True,
    )


def _snmptrap(port: int, source: str, trap: str, index: int) -> None:
    subprocess.run(
        [
            need("snmptrap"), "-v2c", "-c", "public", f"--clientaddr={source}",
            f"127.0.0.1:{port}", "", trap, "1.3.6.1.2.1.2.2.1.1.7", "i", str(index),
        ],
        check=True,
        env={**os.environ, "MIBS": ""},
        capture_output=True,
    )  # fmt: skip


async def test_incidents_from_a_link_a_bgp_message_and_traps(tmp_path: Path, veth, receivers):
    ours, peer = veth
    signed, flaky, signed_url, flaky_url = receivers
    (tmp_path / "snmpd").mkdir()
    snmpd, snmp_port = start_snmpd(tmp_path / "snmpd")
    try:
        await _scenario(tmp_path, snmp_port, ours, peer, signed, flaky, signed_url, flaky_url)
    finally:
        snmpd.terminate()
        snmpd.wait()


async def _scenario(
    tmp_path: Path,
    snmp_port: int,
    ours: str,
    peer: str,
    signed: Receiver,
    flaky: Receiver,
    signed_url: str,
    flaky_url: str,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("IFNAME", ours))
    config = write_setup(
        tmp_path,
        snmp_port,
        f"alerts:\n  interval: 1\n  builtin_rules: false\n  rules_files: [{rules}]\n"
        f"  webhooks:\n    noc: {{url: '{signed_url}'}}\n"
        f"    flaky: {{url: '{flaky_url}', events: [opened]}}\n",
        secrets={"alerts__webhooks__noc__secret": "hook-secret\n"},
    )
    inventory = config.parent / "inventory"
    (inventory / "defaults.yaml").write_text(
        "data:\n  snmp: {version: '2c', credential: ro, interval: 1}\n"
    )
    hosts = inventory / "hosts.yaml"  # r1 gets an address of its own (traps from it name it)
    text = hosts.read_text()
    at = text.index("r1:")
    hosts.write_text(text[:at] + text[at:].replace("127.0.0.1", "127.0.0.2", 1))
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    keys = Keys(runtime.core.settings.state_dir)
    viewer = {"Authorization": f"Bearer {keys.make(Role.viewer)}"}
    operator = {"Authorization": f"Bearer {keys.make(Role.operator)}"}
    db = runtime.core.db

    async def incidents(query: str = "") -> list[dict[str, Any]]:
        response = await client.get(f"/api/v1/incidents?{query}", headers=viewer)
        assert response.status == 200
        return (await response.json())["items"]

    async def detail(number: int) -> dict[str, Any]:
        response = await client.get(f"/api/v1/incidents/{number}", headers=viewer)
        assert response.status == 200
        return await response.json()

    try:
        syslog_port = runtime.syslog.listening["udp"][1]
        trap_port = runtime.traps.listening[1] if runtime.traps.listening else 0
        await asyncio.sleep(3)  # a few polls with the link up: nothing fires
        assert await incidents() == []
        # the far end goes down: our side loses carrier, still admin up
        await asyncio.to_thread(_link, peer, "down")
        (incident,) = await _until("an incident", lambda: incidents("status=open"))
        assert incident["severity"] == "major" and incident["labels"]["device"] == "sw1"
        assert incident["title"] == f"sw1 {ours} is down while administratively up"
        # a BGP neighbour drops on the same device: it joins the incident and raises it
        await asyncio.to_thread(
            _logger, syslog_port, "%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Down BGP Notification sent"
        )
        found = await _until(
            "the BGP alert to join",
            lambda: _with(detail(incident["id"]), lambda d: len(d["alerts"]) == 2),
        )
        assert found["severity"] == "critical" and len(await incidents()) == 1
        assert {a["rule"] for a in found["alerts"]} == {"interface_down", "bgp_neighbor_down"}
        # viewers read, operators act
        path = f"/api/v1/incidents/{incident['id']}/acknowledge"
        refused = await client.post(path, json={"note": "on it"}, headers=viewer)
        assert refused.status == 403
        acked = await client.post(path, json={"note": "on it"}, headers=operator)
        assert acked.status == 200 and (await acked.json())["status"] == "acknowledged"
        again = await client.post(path, json={}, headers=operator)
        assert again.status == 409
        # the link comes back: its alert resolves, the incident waits for the BGP alert
        await asyncio.to_thread(_link, peer, "up")
        await _until(
            "the link alert to resolve",
            lambda: _with(
                detail(incident["id"]),
                lambda d: any(
                    a["resolved_at"] for a in d["alerts"] if a["rule"] == "interface_down"
                ),
            ),
        )
        assert (await detail(incident["id"]))["status"] == "acknowledged"
        await asyncio.to_thread(_logger, syslog_port, "%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Up")
        done = await _until(
            "the incident to resolve itself",
            lambda: _with(detail(incident["id"]), lambda d: d["status"] == "resolved"),
        )
        assert done["resolved_by"] == "genosd"
        kinds = [entry["kind"] for entry in done["timeline"]]
        assert kinds == [
            "alert_fired", "alert_fired", "acknowledged", "alert_resolved", "alert_resolved",
            "resolved",
        ]  # fmt: skip
        assert next(e for e in done["timeline"] if e["kind"] == "acknowledged")["actor"]
        # the signed webhook got every change, in order, signed right; the flaky one only
        # `opened`, on the second attempt
        await _until("the webhooks", lambda: _now(len(signed.got) >= 4 and flaky.got))
        assert [n["event"] for n in signed.got] == [
            "opened",
            "escalated",
            "acknowledged",
            "resolved",
        ]
        assert signed.bad_signatures == 0
        assert signed.got[0]["incident"]["labels"]["device"] == "sw1"
        assert [n["event"] for n in flaky.got] == ["opened"] and flaky.attempts == 2
        await asyncio.sleep(0.3)  # the attempt's outcome is stored after the answer
        sent = {
            (n["target"], n["event"]): n for n in (await detail(incident["id"]))["notifications"]
        }
        assert sent[("webhook:flaky", "opened")]["attempts"] == 2
        assert sent[("webhook:noc", "resolved")]["status"] == "sent"
        # a silence on r1: its linkDown trap fires an alert, marked silenced, and no incident
        silence = await client.post(
            "/api/v1/silences",
            json={"matchers": {"device": "r1"}, "ends_at": time.time() + 600, "comment": "work"},
            headers=operator,
        )
        assert silence.status == 201, await silence.text()
        silence_id = (await silence.json())["id"]
        await asyncio.to_thread(_snmptrap, trap_port, "127.0.0.2", "1.3.6.1.6.3.1.1.5.3", 7)

        async def silenced() -> list[dict[str, Any]]:
            response = await client.get("/api/v1/alerts", headers=viewer)
            return [a for a in (await response.json())["items"] if a["rule"] == "link_down_trap"]

        (trap_alert,) = await _until("the silenced trap alert", silenced)
        assert trap_alert["silenced_by"] == silence_id and trap_alert["incident"] is None
        assert trap_alert["labels"]["ifIndex"] == "7"
        assert await incidents("device=r1") == []
        # linkUp for the same ifIndex resolves it
        await asyncio.to_thread(_snmptrap, trap_port, "127.0.0.2", "1.3.6.1.6.3.1.1.5.4", 7)
        await _until(
            "the trap alert to resolve", lambda: _with(silenced(), lambda a: a == [] or None)
        )
        ended = await client.delete(f"/api/v1/silences/{silence_id}", headers=operator)
        assert ended.status == 200 and (await ended.json())["ended_by"]
        metrics = await (await client.get("/metrics")).text()
        assert 'genosd_alert_transitions_total{kind="fired",rule="interface_down"} 1.0' in metrics
        entries = await db.run(
            lambda c: c.execute(
                "SELECT action FROM audit WHERE action LIKE 'incident_%' OR action LIKE 'silence_%'"
            ).fetchall()
        )
        assert [e[0] for e in entries] == ["incident_acknowledged", "silence_add", "silence_end"]
    finally:
        await client.close()


async def _with(pending: Any, test: Any) -> Any:
    found = await pending
    return (found if found else True) if test(found) else None


async def _now(value: Any) -> Any:
    return value


async def test_a_neighbour_port_facing_a_device_that_is_down_joins_that_device_incident(
    tmp_path: Path,
):
    from genosd.alerts.engine import Alert, Transition
    from genosd.collectors.facts import FactsResult, store_facts

    config = write_setup(tmp_path, 9, "alerts: {interval: 600}\n")
    runtime = build_runtime(Sources(config))
    await runtime.start()
    try:
        lldp = [{"local_interface": "Gi0/1", "neighbor_name": "r1.lab.example",
                 "neighbor_interface": "xe-0/0/0"}]  # fmt: skip
        await runtime.core.db.run(
            store_facts, FactsResult("sw1", True, time.time(), {"lldp": lldp})
        )
        await runtime.alerts.evaluate()  # builds the neighbour map from the stored facts
        assert runtime.alerts.neighbors[("sw1", "GigabitEthernet0/1")] == "r1"
        now = time.time()

        def alert(rule: str, device: str, **labels: str) -> Transition:
            key = f"{rule}|device={device}" + "".join(f"|{k}={v}" for k, v in labels.items())
            found = Alert(rule, key, "major", {"alertname": rule, "device": device, **labels},
                          f"{rule} on {device}", None, now, now)  # fmt: skip
            return Transition("fired", found, now)

        down = alert("device_down", "r1")
        runtime.alerts.evaluator.restore([down.alert])  # r1's device_down is firing
        runtime.alerts._submit([down])
        runtime.alerts._submit([alert("interface_down", "sw1", ifName="GigabitEthernet0/1")])
        runtime.alerts._submit([alert("interface_down", "sw1", ifName="GigabitEthernet0/2")])
        await runtime.alerts.settle()
        rows = await runtime.core.db.run(
            lambda db: db.execute(
                "SELECT rule, json_extract(labels, '$.ifName'), incident,"
                " json_extract(details, '$.caused_by') FROM alerts ORDER BY id"
            ).fetchall()
        )
        (r1_down, facing, other) = rows
        assert facing[2] == r1_down[2] and facing[3] == "r1"  # joined r1's incident
        assert other[2] != r1_down[2] and other[3] is None  # a port facing nothing: its own
    finally:
        await runtime.stop()
