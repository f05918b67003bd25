"""The plugin host in the running app: discovery by entry points, isolation of broken plugins."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from genosd.api.app import create_app
from genosd.api.context import RUNTIME
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from genosd.errors import PluginError
from genosd.metrics.model import Point
from tests.api.conftest import write_setup
from tests.api.test_events_ws import _bearer, _next
from tests.plugin_dist import ENTRY_POINTS, write_dist


@pytest.fixture
def test_plugins(tmp_path, monkeypatch):
    """The test plugins installed as a distribution with entry points, removed afterwards."""
    for path in write_dist(tmp_path / "site"):
        monkeypatch.syspath_prepend(str(path))
    yield
    for module in ENTRY_POINTS.values():
        sys.modules.pop(module, None)


PLUGIN_SETTINGS = """plugins:
  badconfig: {threshold: lots}
  good: {greeting: hi}
  nosuch: {}
"""


async def _plugins(client, secret) -> dict[str, dict]:
    response = await client.get("/api/v1/plugins", headers=_bearer(secret))
    assert response.status == 200
    return {p["name"]: p for p in (await response.json())["items"]}


async def test_broken_plugins_are_reported_and_the_rest_keep_working(api, test_plugins):
    client, keys = await api(PLUGIN_SETTINGS)
    viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
    plugins = await _plugins(client, viewer)
    states = {name: p["state"] for name, p in plugins.items()}
    assert states == {
        "badconfig": "failed",
        "badsink": "active",
        "chat": "active",
        "chatops": "active",
        "flapdetect": "active",
        "good": "active",
        "importerror": "failed",
        "nosuch": "missing",
        "prompt": "active",
        "rag": "active",
        "raises": "failed",
        "unknownhook": "failed",
    }
    assert plugins["importerror"]["error"] == (
        "import failed: ImportError: No module named 'pysnmp_turbo'"
    )
    assert (
        "plugins.badconfig.threshold: Input should be a valid integer"
        in (plugins["badconfig"]["error"])
    )
    assert plugins["raises"]["error"] == (
        "hook genosd_tools raised RuntimeError: tool registry exploded"
    )
    assert "genosd_not_a_hook" in plugins["unknownhook"]["error"]
    assert "no installed plugin" in plugins["nosuch"]["error"]
    good = plugins["good"]
    assert good["version"] == "1.0" and good["routes"] == ["POST /api/v1/plugins/good/echo"]
    assert good["topics"] == ["good.echo"] and good["jobs"][0]["schedule"] == "every 1s"
    flap = plugins["flapdetect"]
    assert flap["tools"][0]["name"] == "interface_flaps"
    assert flap["tools"][0]["args_schema"]["properties"]["device"]
    only_failed = await client.get("/api/v1/plugins?state=failed", headers=_bearer(viewer))
    assert (await only_failed.json())["total"] == 4

    # the good plugin's route: mounted, in the spec, behind the same auth and validation
    spec = await (await client.get("/api/v1/openapi.json")).json()
    operation = spec["paths"]["/api/v1/plugins/good/echo"]["post"]
    assert operation["operationId"] == "good_echo" and operation["x-genosd-role"] == "operator"
    url = "/api/v1/plugins/good/echo"
    assert (await client.post(url, json={"text": "x"})).status == 401
    assert (await client.post(url, json={"text": "x"}, headers=_bearer(viewer))).status == 403
    bad = await client.post(url, json={"txt": "x"}, headers=_bearer(operator))
    assert bad.status == 400 and (await bad.json())["error"]["details"]

    async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
        await _next(ws, "welcome")
        await ws.send_json({"type": "subscribe", "topics": ["good.echo", "alert"]})
        await _next(ws, "subscribed")
        ok = await client.post(url, json={"text": "x"}, headers=_bearer(operator))
        assert ok.status == 200 and await ok.json() == {"text": "hi x"}
        assert (await _next(ws, "event"))["data"] == {"text": "x"}

        # a sink that fails every time is stopped after 10 errors; the plugin is degraded
        bus = client.server.app[RUNTIME].events
        for n in range(10):
            bus.publish("device.status", {"device": f"d{n}", "status": "down"})
        alert = await _next(ws, "event")
        assert alert["topic"] == "alert" and alert["data"]["plugin"] == "badsink"
        assert "ValueError: cannot handle device.status" in alert["data"]["message"]
    plugins = await _plugins(client, viewer)
    assert plugins["badsink"]["state"] == "degraded"
    assert plugins["badsink"]["sinks"][0]["errors"] == 10
    assert plugins["badsink"]["sinks"][0]["stopped"]

    # a failing job run is recorded and the job keeps its schedule
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = (await _plugins(client, viewer))["good"]["jobs"][0]
        if job["runs"] >= 3:
            break
        await asyncio.sleep(0.3)
    assert job["runs"] >= 3 and job["failures"] == 1
    assert (await client.get("/api/v1/health")).status == 200


async def test_required_plugin_failure_stops_start_up_and_disabled_plugins_are_not_imported(
    tmp_path, snmpd, test_plugins
):
    config = write_setup(
        tmp_path, snmpd, "plugins:\n  importerror: {required: true}\n  raises: {enabled: false}\n"
    )
    with pytest.raises(PluginError, match="importerror: import failed"):
        create_app(build_runtime(Sources(config)))
    config.write_text(config.read_text().replace("required: true", "enabled: false"))
    state = build_runtime(Sources(config))
    create_app(state)
    assert state.plugins.host.records["importerror"].state == "disabled"
    assert state.plugins.host.records["raises"].state == "disabled"
    assert "gp_importerror" not in sys.modules and "gp_raises" not in sys.modules


async def test_flapdetect_alerts_on_a_flapping_port_through_the_running_app(api):
    client, keys = await api("plugins:\n  flapdetect: {threshold: 3, window: 600}\n")
    viewer = keys.make(Role.viewer)
    runtime = client.server.app[RUNTIME].plugins.runtime
    assert runtime is not None
    now = time.time()

    def interface(status: int, at: float, name: str = "Gi0/1") -> Point:
        tags = {"device": "sw1", "agent_host": "127.0.0.1", "ifIndex": "1", "ifName": name}
        return Point("interface", tags, {"ifOperStatus": status}, int(at * 1e9))

    async with client.ws_connect("/api/v1/events", headers=_bearer(viewer)) as ws:
        await _next(ws, "welcome")
        await ws.send_json({"type": "subscribe", "topics": ["alert"], "devices": ["sw1"]})
        await _next(ws, "subscribed")
        for n, status in enumerate((1, 2, 1, 2)):  # three changes within the window
            runtime.deliver_points(
                [interface(status, now + n * 60), interface(1, now + n * 60, "Gi0/2")]
            )
        alert = await _next(ws, "event")
    assert alert["data"]["kind"] == "interface_flap" and alert["data"]["source"] == "flapdetect"
    assert alert["data"]["interface"] == "Gi0/1" and alert["data"]["changes"] == 3
    flaps = await client.get("/api/v1/plugins/flapdetect/flaps", headers=_bearer(viewer))
    items = (await flaps.json())["items"]
    assert [(i["interface"], i["changes"], i["status"]) for i in items] == [("Gi0/1", 3, "down")]
