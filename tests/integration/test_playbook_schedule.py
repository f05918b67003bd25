"""Scheduled playbooks: jobs on the daemon's runner, fired at cron times in the playbook's time
zone (the runner's clock injected), the misfire policy, and never two runs of one playbook."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from genosd.app.core import tool_core
from genosd.app.jobs import JobRunner
from genosd.app.playbook_records import RunRecord, save_run
from genosd.app.playbook_schedule import PlaybookSchedules, ZonedCron
from genosd.app.playbooks import BackgroundRuns, list_runs
from genosd.app.snapshot import Sources, load_snapshot
from tests.ssh_lab import write_setup

BERLIN = ZoneInfo("Europe/Berlin")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def test_a_missed_time_runs_once_within_the_grace_and_is_skipped_after_it():
    cron = "0 2 * * *"
    yesterday = _at("2026-03-27T02:00:00")
    within = ZonedCron(cron, "Europe/Berlin", 3600, yesterday)
    assert within.next_after(None, _at("2026-03-28T02:30:00")) == _at("2026-03-28T02:30:00")
    late = within.next_after(None, _at("2026-03-28T04:00:00"))
    # skipped; the next is tomorrow, when 02:00 does not exist (summer time starts): at 03:00
    assert late == _at("2026-03-29T03:00:00")
    # never run before: no catch-up, the next time
    fresh = ZonedCron(cron, "Europe/Berlin", 3600, None)
    assert fresh.next_after(None, _at("2026-03-28T02:30:00")) > _at("2026-03-28T02:30:00")
    # the run that just happened counts: no second run for the same time
    assert within.next_after(_at("2026-03-28T02:00:01"), _at("2026-03-28T02:00:02")) > _at(
        "2026-03-28T03:00:00"
    )
    assert within.describe() == "cron 0 2 * * * (Europe/Berlin)"


async def test_a_schedule_fires_on_the_injected_clock_and_never_overlaps(ssh_lab, tmp_path: Path):
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "tick.yaml").write_text(
        "name: tick\nschedule: {cron: '* * * * *', timezone: Pacific/Chatham}\n"
        "steps:\n  - notify: {message: '{{ host.name }} tick'}\n"
    )
    config, secrets = write_setup(tmp_path, ssh_lab.ports, settings=f"playbooks_dir: {directory}\n")
    snapshot = load_snapshot(Sources(config, None, (secrets,)))
    now = time.time()
    offset = (60 - now % 60) - 0.4  # the injected clock reads 0.4 s before a minute starts
    events: list[dict] = []
    async with tool_core(snapshot) as core:
        core.events.listeners.append(lambda e: events.append(e.data) if e.topic == "run" else None)
        jobs = JobRunner(core.events, clock=lambda: time.time() + offset)
        runs = BackgroundRuns()
        schedules = PlaybookSchedules(core, jobs, runs, {})
        await schedules.sync()
        assert list(jobs.jobs) == ["playbook:tick"]
        jobs.start()
        try:
            status = jobs.status["playbook:tick"]
            for _ in range(50):
                found = await core.db.run(list_runs, "tick", 10)
                # the run's record says ok before the runner has finished the job and planned
                # its next time: wait for both
                planned = status.next_run is not None and status.next_run > time.time() + offset
                if found and found[0]["status"] == "ok" and planned:
                    break
                await asyncio.sleep(0.1)
            assert status.schedule == "cron * * * * * (Pacific/Chatham)"
            assert status.runs == 1 and status.last_error is None
            assert [r["actor"] for r in found] == ["schedule"] and found[0]["status"] == "ok"
            assert (
                status.next_run is not None and 59 < status.next_run - (time.time() + offset) < 61
            )

            # a run of it waiting at a gate: the next time is skipped, with an event
            waiting = RunRecord("tick", "someone", False, {}, [["r1"]], status="waiting_approval")
            await core.db.run(save_run, waiting)
            assert await schedules.fire("tick") is None
            assert events[-1]["status"] == "skipped" and "waiting_approval" in events[-1]["reason"]
            assert len(await core.db.run(list_runs, "tick", 10)) == 2  # only the waiting one added

            # the playbook's schedule removed: its job goes with it
            (directory / "tick.yaml").write_text("name: tick\nsteps:\n  - notify: {message: hi}\n")
            await schedules.sync()
            assert "playbook:tick" not in jobs.jobs
        finally:
            await jobs.stop()
            await runs.stop()
