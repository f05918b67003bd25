"""Health scores and capacity read from a real InfluxDB 1.x (30 days of daily utilisation and
the newest CPU, memory and errors), exported back as points; reports built from them, served
over the API, written and queued by a playbook step, and opened in headless Chromium to check
their charts are drawn."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app import health, reports
from genosd.app.core import tool_core
from genosd.app.playbook_engine import finish_run
from genosd.app.playbooks import begin
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources, load_snapshot
from genosd.auth.keys import Role
from genosd.playbooks.loader import load_playbook
from tests.api.conftest import Keys
from tests.api.test_events_ws import _bearer
from tests.e2e.test_console import ARGS, CHROMIUM

pytestmark = pytest.mark.slow  # InfluxDB and Chromium: CI runs it once, on the default Python

DAY = 86400


def _points(now: float) -> str:
    """30 days of utilisation (4 samples a day) and the newest vitals, in line protocol."""
    lines = []
    start = int(now // DAY * DAY) - 29 * DAY
    for day in range(30):
        for hour in (2, 8, 14, 20):
            ts = (start + day * DAY + hour * 3600) * 10**9
            if ts > now * 1e9:
                continue
            busy = 1.0 if hour == 14 else 0.6  # the afternoon is the day's busy hour
            growing = (40 + 1.0 * day) * busy
            lines += [
                f"interface,device=r1,ifName=Gi0/1 in_utilization={growing},out_utilization={growing / 2} {ts}",
                f"interface,device=r1,ifName=Gi0/2 in_utilization={20 * busy},out_utilization={10 * busy} {ts}",
                f"interface,device=r2,ifName=Gi0/1 in_utilization={88 * busy},out_utilization={90 * busy} {ts}",
            ]
    recent = int((now - 60) * 1e9)
    lines += [
        f"snmp_cpu,device=r1,cpu=1 load_percent=95 {recent}",
        f"snmp_mem,device=r1,pool=proc used_percent=50 {recent}",
        f"snmp_cpu,device=r2,cpu=1 load_percent=10 {recent}",
        f"interface,device=r1,ifName=Gi0/1 in_errors_rate=4.0,out_errors_rate=0.0,ifOperStatus=1i,ifAdminStatus=1i {recent}",
        f"interface,device=r2,ifName=Gi0/3 in_errors_rate=0.0,out_errors_rate=0.0,ifOperStatus=2i,ifAdminStatus=1i {recent}",
        f"genosd_poll,device=r1 success=true {recent}",
        f"genosd_poll,device=r2 success=true {recent}",
    ]
    return "\n".join(lines)


def _setup(tmp_path: Path, influx_url: str) -> Path:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    hosts = {
        "r1": {"hostname": "10.0.0.1", "platform": "ios", "groups": ["core"]},
        "r2": {"hostname": "10.0.0.2", "platform": "ios", "groups": ["edge"]},
    }
    (inventory / "hosts.yaml").write_text(yaml.safe_dump(hosts))
    (inventory / "groups.yaml").write_text("core: {}\nedge: {}\n")
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "morning.yaml").write_text(
        "name: morning\ntargets: {name: r1}\nsteps:\n"
        "  - report: {kind: health, formats: [html, csv], send: ['webhook:ops']}\n"
    )
    config = tmp_path / "genosd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(tmp_path / "state"),
                "inventory_dir": str(inventory),
                "playbooks_dir": str(playbooks),
                "ssh": {"backup_schedule": "", "facts_interval": 0},
                "influx": {"url": influx_url, "api": "v1", "database": "telegraf"},
                "health": {"interval": 0, "source": "influx"},
                "alerts": {"webhooks": {"ops": {"url": "http://127.0.0.1:9/hook"}}},
            }
        )
    )
    return config


async def test_health_capacity_and_reports_from_influxdb(influxdb, tmp_path: Path):
    influxdb.create_db()
    now = time.time()
    httpx.post(
        influxdb.url + "/write", params={"db": "telegraf"}, content=_points(now), timeout=30
    ).raise_for_status()
    config = _setup(tmp_path, influxdb.url)
    async with tool_core(load_snapshot(Sources(config))) as core:
        scores = await health.health(core, "influx")
        found = await health.capacity(core, source="influx")
        await core.points.commit(health.health_points(scores))
        built = {kind: await reports.build(core, kind) for kind in reports.BUILDERS}
        files = {k: reports.write(core, r, ["html", "csv", "json"]) for k, r in built.items()}
        playbook = load_playbook(tmp_path / "playbooks" / "morning.yaml")
        record = await finish_run(core, playbook, await begin(core, playbook, {}, actor="cron"))
        queued = await core.db.run(
            lambda db: db.execute(
                "SELECT target, event, payload FROM notifications WHERE event = 'report'"
            ).fetchall()
        )

    by_device = {d["device"]: d for d in scores["devices"]}
    r1, r2 = by_device["r1"], by_device["r2"]
    assert r1["parts"]["cpu"] < 30 and r1["reasons"][0].startswith("CPU at 95%")
    assert any("4 interface errors/s" in r for r in r1["reasons"])
    assert any("1 enabled interface down" in r for r in r2["reasons"])
    assert r2["score"] > r1["score"]
    assert {g["group"] for g in scores["groups"]} == {"all", "core", "edge"}

    assert found["source"] == "influxdb interface" and found["links"] == 3
    crossing = {(x["device"], x["interface"]): x for x in found["crossing"]}
    assert crossing[("r2", "Gi0/1")]["days_to_threshold"] == 0.0
    assert crossing[("r2", "Gi0/1")]["direction"] == "out"
    growing = crossing[("r1", "Gi0/1")]
    # daily p95 of the growing link: ~ (40 + day) at the busy hour, so 80% in ~11 more days
    assert growing["slope_per_day"] == pytest.approx(1.0, rel=0.1)
    assert growing["days_to_threshold"] == pytest.approx(80 - (40 + 29.5), abs=2.5)
    assert found["top_growth"][0]["interface"] == "Gi0/1"
    assert ("r1", "Gi0/2") not in crossing

    assert record.status == "ok", record.stopped_because
    [(target, event, payload)] = queued
    assert event == "report"
    assert target == "webhook:ops" and '"kind": "health"' in payload
    assert list((tmp_path / "state" / "reports").glob("health-*.csv"))

    # the HTML reports, rendered by a browser: every chart drawn with its bars or lines
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for kind, paths in files.items():
            html_file = next(p for p in paths if p.suffix == ".html")
            await page.goto(html_file.as_uri())
            charts = await page.locator("figure.chart").count()
            assert charts >= 1, kind
            drawn = await page.locator("figure.chart svg").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().width * e.getBoundingClientRect().height)"
            )
            if kind in ("health", "capacity", "inventory"):
                assert await page.locator("rect.bar").count() > 0, kind
                assert all(area > 0 for area in drawn), kind
            if kind == "changes":
                assert await page.locator("polyline.series").count() == 3
        await browser.close()
    assert errors == []

    # over the API
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        viewer = Keys(runtime.core.settings.state_dir).make(Role.viewer)
        answer = await client.get(
            "/api/v1/reports/capacity", params={"format": "csv"}, headers=_bearer(viewer)
        )
        text = await answer.text()
        assert answer.status == 200 and answer.content_type == "text/csv", text
        assert text.splitlines()[0].startswith("device,interface,direction,p50 %")
        assert any(line.startswith("r2,Gi0/1,out") for line in text.splitlines())
        answer = await client.get(
            "/api/v1/fleet/health", params={"source": "influx"}, headers=_bearer(viewer)
        )
        body = await answer.json()
        assert answer.status == 200, body
        assert body["devices"][0]["device"] == "r1"  # worst first
        missing = await client.get("/api/v1/reports/nope", headers=_bearer(viewer))
        assert missing.status == 400
        # the daemon's job writes the scores back to the metrics database
        await health.health_job(runtime.core).run()
        exported: list[list] = []
        for _ in range(100):
            exported = influxdb.query('SELECT score FROM genosd_health GROUP BY "device"')
            if len(exported) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(exported) == 2
        groups = influxdb.query(
            "SELECT score, poor FROM genosd_health_group WHERE \"group\" = 'all'"
        )
        assert groups and groups[-1][2] == 0  # neither device is under 70
    finally:
        await client.close()
