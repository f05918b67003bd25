"""The job runner: schedules read at every turn, failures recorded and announced, jobs isolated."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from genosd.app.jobs import Cron, Every, Job, JobRunner, JobStatus
from genosd.events import EventBus


def test_every_runs_at_start_only_when_asked_and_never_catches_up():
    now = 1000.0
    assert Every(60).next_after(None, now) == 1060.0
    assert Every(60, at_start=True).next_after(None, now) == now
    assert Every(60).next_after(990.0, now) == 1050.0
    # a run that took longer than the period starts the next one now, not a burst of missed ones
    assert Every(60).next_after(800.0, now) == now


def test_cron_is_evaluated_in_local_time():
    base = datetime(2026, 11, 29, 1, 30).astimezone().timestamp()
    nxt = Cron("0 2 * * *").next_after(None, base)
    assert datetime.fromtimestamp(nxt).astimezone().hour == 2
    assert nxt - base == pytest.approx(1800, abs=1)


async def _wait(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_failing_job_is_recorded_announced_and_runs_again():
    bus = EventBus()
    sub = bus.subscribe(topics={"job"})
    calls = []

    async def flaky() -> None:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("device r9 unreachable")

    runner = JobRunner(bus)
    runner.add(Job("flaky", "genosd", flaky, lambda: Every(0.05, at_start=True)))
    runner.start()
    try:
        await _wait(lambda: len(calls) >= 3)
    finally:
        await runner.stop()
    status = runner.status["flaky"]
    assert status.runs >= 3 and status.failures == 1 and status.last_error is None
    assert status.last_ok is not None and status.schedule == "every 0.05s"
    events = [sub.queue.get_nowait().data for _ in range(sub.queue.qsize())]
    assert [e["status"] for e in events[:3]] == ["ok", "failed", "ok"]
    assert events[1]["error"] == "RuntimeError: device r9 unreachable"
    assert events[2]["recovered"] is True


async def test_a_quiet_job_announces_only_failures_and_recoveries():
    bus = EventBus()
    sub = bus.subscribe(topics={"job"})
    outcomes = iter([None, None, RuntimeError("down"), RuntimeError("down"), None, None])

    async def step() -> None:
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome

    runner = JobRunner(bus)
    runner.add(Job("relay", "genosd", step, lambda: Every(0.02, at_start=True), quiet=True))
    runner.start()
    try:
        await _wait(lambda: runner.status["relay"].runs >= 6)
    finally:
        await runner.stop()
    events = [sub.queue.get_nowait().data["status"] for _ in range(sub.queue.qsize())]
    assert events == ["failed", "ok"]


async def test_a_disabled_schedule_waits_for_a_reschedule():
    bus = EventBus()
    ran = asyncio.Event()
    schedule: list[Every | None] = [None]

    async def work() -> None:
        ran.set()

    runner = JobRunner(bus)
    runner.add(Job("backup", "genosd", work, lambda: schedule[0]))
    runner.start()
    try:
        await asyncio.sleep(0.1)
        assert not ran.is_set() and runner.status["backup"].schedule == "disabled"
        schedule[0] = Every(0.01, at_start=True)  # what a reload does to the settings
        runner.reschedule()
        await asyncio.wait_for(ran.wait(), 2)
    finally:
        await runner.stop()


async def test_removing_an_owner_stops_its_jobs_only():
    bus = EventBus()
    runs = {"plugin": 0, "core": 0}

    def counter(name: str):
        async def run() -> None:
            runs[name] += 1

        return run

    runner = JobRunner(bus)
    runner.add(Job("p.tick", "p", counter("plugin"), lambda: Every(0.01, at_start=True)))
    runner.add(Job("core.tick", "genosd", counter("core"), lambda: Every(0.01, at_start=True)))
    runner.start()
    try:
        await _wait(lambda: runs["plugin"] >= 2)
        await runner.remove_owner("p")
        frozen = runs["plugin"]
        core_before = runs["core"]
        await asyncio.sleep(0.1)
        assert runs["plugin"] == frozen and runs["core"] > core_before
        assert set(runner.status) == {"core.tick"}
    finally:
        await runner.stop()


async def test_history_survives_a_restart_through_persistence():
    saved: dict[str, JobStatus] = {}

    async def persist(status: JobStatus) -> None:
        saved[status.name] = JobStatus(**vars(status))

    async def boom() -> None:
        raise OSError("git push refused")

    runner = JobRunner(EventBus(), persist)
    runner.add(Job("config_backup", "genosd", boom, lambda: Every(3600)))
    await runner.run_now("config_backup")
    restarted = JobRunner(EventBus())
    restarted.add(Job("config_backup", "genosd", boom, lambda: Every(3600)), saved["config_backup"])
    status = restarted.status["config_backup"]
    assert status.failures == 1 and status.last_error == "OSError: git push refused"
