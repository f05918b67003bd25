"""The web console with 1,000 devices and 10 status events a second, in headless Chromium: time
to first render of the device table, event-to-DOM latency (publish in the daemon → the row's
status changed in the page), and the page's JavaScript heap over the run. Beside it, in the same
run, a bare page: a plain WebSocket on the same event stream writing the status into one element
(the floor the console's own work adds to).

Run from the repository root (needs Debian's chromium and the test extra's playwright):
    .venv/bin/python -m bench.console_load [--devices 1000 --rate 10 --minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role
from tests.api.conftest import Keys
from tests.servers import free_tcp_port

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--enable-precise-memory-info"]  # fmt: skip
# the page notes when each watched row shows a new status (a MutationObserver on the table)
WATCH = """() => {
  window.__seen = []; window.__last = {};
  const body = document.querySelector('table[aria-label="devices"] tbody');
  new MutationObserver(() => {
    for (const row of body.querySelectorAll('tr[data-device]')) {
      const name = row.dataset.device, status = row.children[1].textContent;
      if (window.__last[name] !== status) {
        window.__last[name] = status; window.__seen.push([name, status, Date.now()]);
      }
    }
  }).observe(body, {childList: true, subtree: true, characterData: true});
}"""
BARE = """(key) => new Promise((ready) => {
  window.__seen = [];
  document.body.innerHTML = '<div id="s"></div>';
  const ws = new WebSocket(`ws://${location.host}/api/v1/events`);
  ws.onopen = () => ws.send(JSON.stringify({type: 'auth', key}));
  ws.onmessage = (m) => {
    const d = JSON.parse(m.data);
    if (d.type === 'welcome') ws.send(JSON.stringify({type: 'subscribe', topics: ['device.status']}));
    if (d.type === 'subscribed') ready();
    if (d.type === 'event') {
      document.getElementById('s').textContent = d.data.status;
      window.__seen.push([d.data.device, d.data.status, Date.now()]);
    }
  };
})"""


MISSED: list[int] = []  # per drive: changes the page never showed


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _drive(
    runtime: Any, page: Any, names: list[str], rate: float, seconds: float
) -> list[float]:
    """Publish status changes of the rows in view at `rate`/s for `seconds`; each change's
    latency to the page, in ms (the k-th change of a device matched to its k-th send)."""
    sent: dict[str, list[tuple[str, float]]] = {n: [] for n in names}
    status = dict.fromkeys(names, "unknown")
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name = names[n % len(names)]
        new = "down" if status[name] != "down" else "up"
        sent[name].append((new, time.time() * 1000))
        runtime.events.publish(
            "device.status", {"device": name, "status": new, "previous": status[name]}
        )
        status[name] = new
        n += 1
        await asyncio.sleep(1 / rate)
    await asyncio.sleep(1)
    seen: dict[str, list[tuple[str, float]]] = {}
    for name, shown, at in await page.evaluate("() => window.__seen.splice(0)"):
        if shown != "unknown" and name in sent:
            seen.setdefault(name, []).append((shown, at))
    # each change shown is matched to the newest send of that status before it; a send never
    # shown (the next change came first) counts as missed
    latencies, missed = [], 0
    for name, sends in sent.items():
        shown = seen.get(name, [])
        used = 0
        for status_shown, at_seen in shown:
            best = None
            for index in range(used, len(sends)):
                want, at_sent = sends[index]
                if at_sent > at_seen:
                    break
                if want == status_shown:
                    best = index
            if best is not None:
                missed += best - used
                latencies.append(at_seen - sends[best][1])
                used = best + 1
        missed += len(sends) - used
    MISSED.append(missed)
    return latencies


async def main() -> None:
    """One run: the console, then the bare page, same daemon and event rate."""
    from playwright.async_api import async_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "inventory").mkdir()
        (root / "inventory" / "hosts.yaml").write_text(
            "".join(
                f"d{n:04}: {{hostname: 10.{n // 62500}.{n // 250 % 250}.{n % 250 + 1}, "
                f"platform: ios, data: {{site: s{n % 7}}}}}\n"
                for n in range(args.devices)
            )
        )
        port = free_tcp_port()
        config = root / "genosd.yaml"
        config.write_text(
            f"state_dir: {root / 'state'}\ninventory_dir: {root / 'inventory'}\n"
            f"api: {{port: {port}, rate_limit_per_minute: 1000000, rate_limit_burst: 100000}}\n"
        )
        runtime = build_runtime(Sources(config))
        runner = web.AppRunner(create_app(runtime))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        key = Keys(runtime.core.settings.state_dir).make(Role.viewer)
        base = f"http://127.0.0.1:{port}"
        names = sorted(runtime.core.inventory.devices)[:15]  # the rows in view
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await page.goto(base + "/")
                await page.evaluate(f"sessionStorage.setItem('genosd.key', {key!r})")
                await page.goto(base + "/#/devices")
                began = time.perf_counter()
                await page.reload()  # a fresh load that finds the key: login to table
                await page.wait_for_selector('tr[data-device="d0000"]')
                first_render = (time.perf_counter() - began) * 1000
                await page.wait_for_function("document.querySelector('#who').textContent !== ''")
                await asyncio.sleep(1)  # subscribed
                await page.evaluate(WATCH)
                cdp = await page.context.new_cdp_session(page)
                await cdp.send("Performance.enable")

                async def heap() -> float:
                    metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
                    used = next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize")
                    return used / 2**20

                start_heap = await heap()
                heaps = []
                console: list[float] = []
                rounds = max(1, round(args.minutes))
                for _ in range(rounds):
                    console += await _drive(
                        runtime, page, names, args.rate, args.minutes * 60 / rounds
                    )
                    await cdp.send("HeapProfiler.collectGarbage")
                    heaps.append(await heap())
                bare_page = await browser.new_page()
                await bare_page.goto(base + "/console/app.css")  # same origin, no console code
                await bare_page.evaluate(BARE, key)
                bare = await _drive(
                    runtime, bare_page, names, args.rate, min(60.0, args.minutes * 60)
                )
                await browser.close()
        finally:
            await runner.cleanup()
    print(f"{args.devices} devices, {args.rate:g} status events/s for {args.minutes:g} min")
    print(f"  first render of the device table: {first_render:.0f} ms")
    for label, values in (("console", console), ("bare page", bare)):
        print(
            f"  event-to-DOM {label:10} p50 {statistics.median(values):.1f} ms  "
            f"p95 {_p(values, 0.95):.1f} ms  max {max(values):.1f} ms  ({len(values)} events)"
        )
    print(f"  changes never shown: console {sum(MISSED[:-1])}, bare page {MISSED[-1]}")
    print(
        f"  JS heap: {start_heap:.1f} MiB at the start, after each minute "
        + ", ".join(f"{h:.1f}" for h in heaps)
        + " MiB (after a GC)"
    )


if __name__ == "__main__":
    asyncio.run(main())
