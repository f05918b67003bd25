"""Every InfluxDB query of genosd's dashboards, variables substituted as Grafana does, against a
real InfluxDB 1.x that genosd filled by polling the built-in lab (and validating its configs,
and receiving a trap): each returns data of the shape its panel shows — no empty panel on the lab.
(Grafana itself is not in Debian's archive; what it would send is what runs here.)"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from genosd.dashboards import dashboards
from genosd.lab.topology import NODES
from tests.api.conftest import Keys
from tests.servers import InfluxV1, need

pytestmark = pytest.mark.slow  # the lab, InfluxDB, three polls of every device


def grafana_query(query: str, device: str = ".*", interface: str = ".*") -> str:
    """`query` as Grafana sends it: the time filter, the interval and the variables' regexes."""
    values = {
        "timeFilter": "time > now() - 1h",
        "__interval": "10s",
        "device": device,
        "site": ".*",
        "group": ".*",
        "interface": interface,
    }
    return re.sub(r"\$(\w+)", lambda m: values.get(m[1], m[0]), query)


def rows(influx: InfluxV1, query: str) -> list[list]:
    response = httpx.get(
        f"{influx.url}/query", params={"db": "telegraf", "q": query, "epoch": "ms"}, timeout=10
    )
    response.raise_for_status()
    result = response.json()["results"][0]
    assert "error" not in result, (query, result["error"])
    return [row for s in result.get("series", []) for row in s["values"]]


def series_tags(influx: InfluxV1, query: str) -> list[dict[str, str]]:
    """The tags of each series a grouped query answers."""
    response = httpx.get(f"{influx.url}/query", params={"db": "telegraf", "q": query}, timeout=10)
    response.raise_for_status()
    return [s.get("tags", {}) for s in response.json()["results"][0].get("series", [])]


async def test_every_panel_has_data_on_the_lab(tmp_path: Path, lab, influxdb: InfluxV1):
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {lab.inventory_dir}\n"
        f"influx: {{url: '{influxdb.url}', api: v1, database: telegraf}}\n"
        "traps: {host: 127.0.0.1, port: 0}\nssh: {host_key_policy: accept-new}\n"
    )
    os.environ["GENOSD_SECRETS_DIR"] = str(lab.secrets_dir)
    try:
        runtime = build_runtime(Sources(config))
    finally:
        del os.environ["GENOSD_SECRETS_DIR"]
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        operator = {
            "Authorization": f"Bearer {Keys(runtime.core.settings.state_dir).make(Role.operator)}"
        }
        devices = (await (await client.get("/api/v1/devices", headers=operator)).json())["items"]
        polled = [d["name"] for d in devices if d.get("snmp")]
        validated = [n.name for n in NODES]  # the lab's SSH devices
        assert polled and validated
        for _ in range(3):  # rates need two polls
            for name in polled:
                response = await client.post(f"/api/v1/devices/{name}/poll", headers=operator)
                assert response.status == 200, await response.text()
            await asyncio.sleep(1.1)
        for name in validated:
            response = await client.get(f"/api/v1/devices/{name}/intended", headers=operator)
            assert response.status == 200, await response.text()
        assert runtime.traps.listening is not None, runtime.traps.error
        port = runtime.traps.listening[1]
        await asyncio.to_thread(
            subprocess.run,
            [need("snmptrap"), "-v2c", "-c", polled[0], f"127.0.0.1:{port}", "",
             "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2"],
            check=True, env={**os.environ, "MIBS": ""}, capture_output=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the forwarder writes every second
            trap = await asyncio.to_thread(
                rows, influxdb, 'SELECT count("sysUpTimeInstance") FROM "snmp_trap"'
            )
            # the lateness panel needs a scheduled poll on its slot: the first one after start
            # is spread off the grid, the next comes within 1.5 intervals (the lab's is 10 s)
            on_grid = await asyncio.to_thread(
                rows, influxdb, 'SELECT count("slot_lag_ms") FROM "genosd_poll"'
            )
            if trap and on_grid and runtime.pipeline.store.pending_points == 0:
                break
            await asyncio.sleep(0.5)
        device = polled[0]
        # an interface with a speed (so utilisation), as an engineer would pick
        with_speed = await asyncio.to_thread(
            series_tags,
            influxdb,
            f'SELECT last("in_utilization") FROM "interface" WHERE "device" = \'{device}\' '
            'GROUP BY "ifName"',
        )
        assert with_speed
        interface = with_speed[0]["ifName"]
        empty = []
        for uid, board in dashboards().items():
            single = uid in ("genosd-device", "genosd-interface")
            # a count of what went wrong shows 0 (its noValue) when nothing did
            zero_when_empty = {
                p["title"]
                for p in board["panels"]
                if p.get("fieldConfig", {}).get("defaults", {}).get("noValue") == "0"
            }
            targets = [
                (p["title"], t["query"])
                for p in board["panels"]
                for t in p["targets"]
                if t["datasource"]["type"] == "influxdb"
            ]
            # traps from the lab's shared address name no one device: any device's will do
            targets += [
                (a["name"], a["query"].replace("$device", ".*"))
                for a in board["annotations"].get("list", [])
            ]
            targets += [
                (f"${v['name']}", v["query"])
                for v in board["templating"]["list"]
                if v["type"] == "query" and v["name"] not in ("site", "group")
            ]
            for title, query in targets:
                if "genosd_compliance" in query:
                    chosen = validated[0] if single else ".*"
                else:
                    chosen = device if single else ".*"
                sent = grafana_query(query, chosen, interface)
                found = await asyncio.to_thread(rows, influxdb, sent)
                has_data = any(value is not None for row in found for value in row[1:])
                if not has_data and title not in zero_when_empty:
                    empty.append(f"{uid} / {title}: {sent}")
        # the lab's devices have no site or group of their own: those variables list nothing
        assert empty == [], "\n".join(empty)
    finally:
        await client.close()
