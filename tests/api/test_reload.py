"""Reload that applies: settings and inventory changed on disk take effect without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys, write_setup
from tests.api.test_events_ws import _bearer

pytestmark = pytest.mark.slow  # a lab workflow: CI runs it once, on the default Python


async def _start(config: Path) -> tuple[TestClient, Keys]:
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    return client, Keys(runtime.core.settings.state_dir)


async def _until(check, timeout: float = 20.0, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(every)


async def _victoria_series(url: str, device: str) -> list[str]:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{url}/api/v1/export",
            data={"match[]": f'{{__name__=~"interface_.*",device="{device}"}}'},
        )
    return [line for line in response.text.splitlines() if line]


async def test_reload_adds_a_sink_a_device_and_a_lower_rate_limit(tmp_path, snmpd, victoria):
    config = write_setup(tmp_path, snmpd)
    client, keys = await _start(config)
    try:
        admin, viewer = keys.make(Role.admin), keys.make(Role.viewer)
        health = await (await client.get("/api/v1/health")).json()
        assert health["metrics_sink"] is None

        hosts = tmp_path / "inventory" / "hosts.yaml"
        hosts.write_text(
            hosts.read_text() + f"sw2:\n  hostname: 127.0.0.1\n  platform: ios\n"
            f"  data: {{snmp: {{port: {snmpd}, interval: 1}}}}\n"
        )
        config.write_text(
            config.read_text()
            + f"influx: {{url: '{victoria}', api: v2, flush_interval: 0.2}}\n"
            + "api: {rate_limit_per_minute: 60, rate_limit_burst: 5}\n"
        )
        reloaded = await client.post("/api/v1/system/reload", headers=_bearer(admin))
        report = await reloaded.json()
        assert reloaded.status == 200, report
        assert report["devices_added"] == ["sw2"] and report["restart_required"] == []
        assert {"influx.url", "api.rate_limit_per_minute", "api.rate_limit_burst"} <= set(
            report["changed"]
        )

        # the sink is in use and the new device is polled: its points reach VictoriaMetrics
        health = await (await client.get("/api/v1/health")).json()
        assert health["metrics_sink"]["name"].startswith("influxdb")
        assert await _until(lambda: _victoria_series(victoria, "sw2"), timeout=30)

        async def sw2_up() -> bool:
            device = await client.get("/api/v1/devices/sw2", headers=_bearer(viewer))
            return (await device.json())["status"] == "up"

        assert await _until(sw2_up)

        # the lower rate limit applies to a key at once: burst 5, then 429 with Retry-After
        statuses = [
            (await client.get("/api/v1/system", headers=_bearer(viewer))).status for _ in range(7)
        ]
        assert statuses[:4] == [200] * 4 and statuses[-1] == 429

        # the settings in effect are what /system/settings shows
        shown = await (await client.get("/api/v1/system/settings", headers=_bearer(admin))).json()
        assert shown["settings"]["influx"]["url"] == victoria
        assert shown["settings"]["api"]["rate_limit_burst"] == 5
        assert shown["restart_required"] == []
    finally:
        await client.close()


async def test_a_setting_that_needs_a_restart_is_named_and_keeps_its_running_value(tmp_path, snmpd):
    config = write_setup(tmp_path, snmpd)
    client, keys = await _start(config)
    try:
        admin = keys.make(Role.admin)
        running_port = client.server.port
        config.write_text(config.read_text() + "api: {port: 1}\nlog_level: DEBUG\n")
        report = await (await client.post("/api/v1/system/reload", headers=_bearer(admin))).json()
        assert report["restart_required"] == ["api.port"]
        shown = await (await client.get("/api/v1/system/settings", headers=_bearer(admin))).json()
        assert shown["settings"]["api"]["port"] != 1  # still the value the socket was opened with
        assert shown["settings"]["log_level"] == "DEBUG"  # applied
        assert shown["restart_required"] == ["api.port"]
        system = await (await client.get("/api/v1/system", headers=_bearer(admin))).json()
        assert system["restart_required"] == ["api.port"]
        assert client.server.port == running_port

        # a broken file is refused: 422 naming file and line, and nothing changes
        config.write_text(config.read_text() + "poller: {interval: 0}\n")
        refused = await client.post("/api/v1/system/reload", headers=_bearer(admin))
        error = (await refused.json())["error"]
        assert refused.status == 422 and "poller.interval" in error["message"]
        assert "genosd.yaml:" in error["message"]
        health = await client.get("/api/v1/health")
        assert health.status == 200
    finally:
        await client.close()


async def test_disabling_a_plugin_stops_its_jobs_and_routes_and_enabling_brings_them_back(
    tmp_path, snmpd
):
    config = write_setup(tmp_path, snmpd, "plugins:\n  flapdetect: {threshold: 3}\n")
    client, keys = await _start(config)
    try:
        admin, viewer = keys.make(Role.admin), keys.make(Role.viewer)
        flaps = "/api/v1/plugins/flapdetect/flaps"
        assert (await client.get(flaps, headers=_bearer(viewer))).status == 200

        async def jobs() -> set[str]:
            system = await (await client.get("/api/v1/system", headers=_bearer(admin))).json()
            return {j["name"] for j in system["jobs"]}

        assert "flapdetect.prune" in await jobs()

        config.write_text(config.read_text().replace("{threshold: 3}", "{enabled: false}"))
        report = await (await client.post("/api/v1/system/reload", headers=_bearer(admin))).json()
        assert report["plugins_reloaded"] == ["flapdetect"]
        assert (await client.get(flaps, headers=_bearer(viewer))).status == 404
        assert "flapdetect.prune" not in await jobs()
        listed = await (await client.get("/api/v1/plugins", headers=_bearer(viewer))).json()
        [record] = [p for p in listed["items"] if p["name"] == "flapdetect"]
        assert record["state"] == "disabled"

        config.write_text(config.read_text().replace("{enabled: false}", "{threshold: 4}"))
        report = await (await client.post("/api/v1/system/reload", headers=_bearer(admin))).json()
        assert report["restart_required"] == []  # its routes were mounted at start
        assert (await client.get(flaps, headers=_bearer(viewer))).status == 200
        assert "flapdetect.prune" in await jobs()
    finally:
        await client.close()
