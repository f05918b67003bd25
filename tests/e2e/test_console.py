"""The web console in headless Chromium (Debian's, driven by Playwright) against a daemon on a
loopback port with the SSH lab: log in with a key, live status over the event stream, a change's
diff, approve refused for a viewer and done by an operator, the assistant streaming an answer
from the scripted model server; no errors in the browser's console. Screenshots of each page go
to $GENOSD_SCREENSHOTS (default: the test's directory)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.ollama_server import FakeOllama
from tests.servers import free_tcp_port, start_snmpd
from tests.ssh_lab import write_setup

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def script(body: dict[str, Any]) -> dict[str, Any]:
    """Look at r1, then answer in several words (streamed piece by piece)."""
    if body["messages"][-1]["role"] == "tool":
        return {"content": "r1 is down: its SNMP agent does not answer, check the management path."}
    return {"tool_calls": [{"name": "device_status", "arguments": {"device": "r1"}}]}


async def test_the_console(ssh_lab, tmp_path: Path):
    from playwright.async_api import async_playwright, expect

    shots = Path(os.environ.get("GENOSD_SCREENSHOTS", str(tmp_path / "shots")))
    os.makedirs(shots, exist_ok=True)
    model = FakeOllama(models=("qwen2.5:7b",))
    model.script = script
    await model.start()
    port = free_tcp_port()
    playbooks = tmp_path / "playbooks"
    os.makedirs(playbooks)
    (playbooks / "versions.yaml").write_text(
        "name: versions\ndescription: what runs where\nsteps:\n"
        "  - name: show version\n    show: {commands: ['show version']}\n"
    )
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings=f"llm: {{url: '{model.url}'}}\napi: {{port: {port}}}\n"
        f"playbooks_dir: {playbooks}\n"
        "ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n",
    )
    # r1 answers SNMP from a real snmpd until the test stops it
    snmpd, snmp_port = start_snmpd(tmp_path)
    hosts = tmp_path / "inventory" / "hosts.yaml"
    hosts.write_text(
        hosts.read_text().replace(
            "r1:\n  hostname: 127.0.0.1\n  platform: ios\n  data:\n",
            "r1:\n  hostname: 127.0.0.1\n  platform: ios\n  data:\n"
            f"    snmp: {{port: {snmp_port}, credential: pub}}\n",
            1,
        )
    )
    (secrets / "credentials__pub__community").write_text("public")
    try:
        runtime = build_runtime(Sources(config, None, (secrets,)))
    except BaseException:
        snmpd.terminate()
        await model.stop()
        raise
    runner = web.AppRunner(create_app(runtime))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    keys = Keys(runtime.core.settings.state_dir)
    viewer, operator = keys.make(Role.viewer), keys.make(Role.operator)
    errors: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "console",
                lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: errors.append(str(e)))

            async def login(secret: str) -> None:
                await page.goto(base + "/")
                await page.get_by_label("API key").fill(secret)
                await page.get_by_role("button", name="Log in").click()
                await expect(page.get_by_role("table", name="devices")).to_be_visible()

            await page.goto(base + "/")
            await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            await page.screenshot(path=shots / "login.png")
            await page.get_by_label("API key").fill("gnd_not_a_key")
            await page.get_by_role("button", name="Log in").click()
            await expect(page.get_by_role("alert")).to_contain_text("key")

            await login(viewer)
            await expect(page.locator("#who")).to_contain_text("viewer")
            row = page.locator('tr[data-device="r1"]')
            async with runtime_client(base, operator) as http:
                for _ in range(3):  # answered polls: rates for the sparkline
                    await http.post(f"{base}/api/v1/devices/r1/poll")
                    await asyncio.sleep(1.1)
            await expect(row).to_contain_text("up", timeout=15_000)
            # the poll's vitals reach the row with the event: the agent's uptime is shown
            await expect(row.get_by_role("cell").nth(4)).to_have_text(
                re.compile(r"^\d+[dh] \d+[hm]$")
            )
            # r1's agent goes away: the next poll's status change reaches the table live
            snmpd.terminate()
            snmpd.wait()
            async with runtime_client(base, operator) as http:
                await http.post(f"{base}/api/v1/devices/r1/poll")
            await expect(row).to_contain_text("down", timeout=15_000)
            await page.screenshot(path=shots / "devices.png")

            async with runtime_client(base, operator) as http:
                collected = await http.post(f"{base}/api/v1/devices/r1/facts")
                assert collected.status == 200, await collected.text()
            await page.goto(base + "/#/device/r1")
            await expect(page.get_by_role("heading", name="r1", exact=True)).to_be_visible()
            await expect(page.get_by_label("Status")).to_contain_text("down")
            await expect(page.get_by_label("Facts")).to_contain_text("Neighbours")
            interfaces = page.get_by_role("table", name="interfaces")
            await expect(
                interfaces.get_by_role("img", name=re.compile("peak")).first
            ).to_be_visible()
            await page.screenshot(path=shots / "device.png")

            await page.goto(base + "/#/topology")
            await expect(page.get_by_role("img", name="2 devices, 1 links")).to_be_visible()
            await expect(page.get_by_role("table", name="links")).to_contain_text(
                "GigabitEthernet0/0"
            )
            await page.screenshot(path=shots / "topology.png")

            async with runtime_client(base, operator) as http:
                planned = await (
                    await http.post(f"{base}/api/v1/devices/r2/plan", json={"features": ["ntp"]})
                ).json()
            change = planned["change"]["id"]
            await page.goto(base + "/#/approvals")
            await page.get_by_role("button", name=f"#{change}").click()
            diff = page.get_by_role("region", name="diff")
            await expect(diff).to_contain_text("+ntp server 10.255.255.1")
            await page.get_by_role("button", name="Approve this diff").click()
            await expect(page.get_by_role("status").last).to_contain_text("refused")
            await expect(page.get_by_role("status").last).to_contain_text("operator")
            await page.screenshot(path=shots / "approvals.png")

            await page.get_by_role("button", name="Log out").click()
            await login(operator)
            await page.goto(base + "/#/approvals")
            await page.get_by_role("button", name=f"#{change}").click()
            await page.get_by_role("button", name="Approve this diff").click()
            await expect(page.get_by_role("status").last).to_contain_text(
                f"change #{change} is approved"
            )

            await page.goto(base + "/#/chat")
            await page.get_by_label("Ask the assistant").fill("how is r1?")
            await page.get_by_role("button", name="Send").click()
            log = page.get_by_role("log", name="conversation")
            await expect(log).to_contain_text("→ device_status")
            await expect(log.locator(".answer[data-done]")).to_contain_text(
                "check the management path"
            )
            await page.screenshot(path=shots / "assistant.png")

            await page.goto(base + "/#/runs")
            await expect(page.get_by_role("heading", name="versions")).to_be_visible()
            async with runtime_client(base, operator) as http:
                started = await http.post(f"{base}/api/v1/playbooks/versions/runs", json={})
                run = (await started.json())["id"]
            await page.get_by_role("button", name=f"#{run}").click()  # listed live
            steps = page.get_by_role("table", name=f"run {run} steps")
            await expect(steps).to_contain_text("show version")
            await expect(
                page.get_by_role("heading", name=re.compile(f"Run #{run}.*ok"))
            ).to_be_visible(timeout=20_000)  # the run's progress arrives over the event stream
            await expect(steps.get_by_role("cell", name="ok")).to_have_count(2)
            await page.screenshot(path=shots / "runs.png")
            await page.goto(base + "/#/system")
            await expect(page.get_by_role("table", name="jobs")).to_be_visible()
            await page.screenshot(path=shots / "system.png")
            await browser.close()
    finally:
        await runner.cleanup()
        await model.stop()
        if snmpd.poll() is None:
            snmpd.terminate()
            snmpd.wait()
    # the browser logs each refused request; the only ones are the test's own refused actions
    deliberate = ("status of 401 (Unauthorized) {'url': '" + base + "/api/v1/devices?limit=1'",
                  "status of 403 (Forbidden) {'url': '" + base + f"/api/v1/approvals/{change}/approve'")  # fmt: skip
    unexpected = [e for e in errors if not any(d in e for d in deliberate)]
    assert not unexpected, "\n".join(unexpected)


def runtime_client(base: str, secret: str) -> Any:
    """An HTTP client with `secret` (the test's own calls beside the browser)."""
    import aiohttp

    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"})


async def test_the_topology_page_draws_the_four_platform_lab(topology_lab, tmp_path: Path):
    from playwright.async_api import async_playwright, expect

    from tests.ssh_lab import write_topology_setup

    port = free_tcp_port()
    config, secrets = write_topology_setup(
        tmp_path,
        topology_lab.ports,
        settings=f"api: {{port: {port}}}\nssh: {{facts_interval: 0, host_key_policy: accept-new}}\n",
    )
    runtime = build_runtime(Sources(config, None, (secrets,)))
    runner = web.AppRunner(create_app(runtime))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    viewer = Keys(runtime.core.settings.state_dir).make(Role.viewer)
    operator = Keys(runtime.core.settings.state_dir).make(Role.operator)
    try:
        async with runtime_client(base, operator) as http:
            for name in topology_lab.sims:
                response = await http.post(f"{base}/api/v1/devices/{name}/facts")
                assert response.status == 200, await response.text()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(base + "/")
            await page.get_by_label("API key").fill(viewer)
            await page.get_by_role("button", name="Log in").click()
            await page.get_by_role("link", name="Topology").click()
            await expect(page.get_by_role("img", name="4 devices, 5 links")).to_be_visible()
            links = page.get_by_role("table", name="links")
            await expect(links.get_by_role("row")).to_have_count(6)  # the header and five links
            await expect(page.locator("svg line.link.up")).to_have_count(5)
            await browser.close()
    finally:
        await runner.cleanup()
