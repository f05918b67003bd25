"""One runner for everything genosd does on a schedule: core loops and plugin jobs alike.

A job is a coroutine function and a schedule (every N seconds, a cron expression in local time,
or none: disabled). The schedule is read again before every run, so a reload that changes
`ssh.backup_schedule` takes effect at once. Each job's runs, failures, last run, duration, error
and next run are kept (and persisted in the state database, so a failed nightly backup is still
visible after a restart), exported in /metrics and /api/v1/system, and published as `job` events:
every run of a normal job, only failures and recoveries of a `quiet` one (loops that run every
second). A job that raises is recorded and runs again at its next time; it never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from croniter import croniter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from genosd.events import EventBus
from genosd.statedb import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Every:
    """Run every `seconds`, the first time right away when `at_start`, else after one period."""

    seconds: float
    at_start: bool = False

    def describe(self) -> str:
        """For humans and the API."""
        return f"every {self.seconds:g}s"

    def next_after(self, last_start: float | None, now: float) -> float:
        """Wall time of the next run."""
        if last_start is None:
            return now if self.at_start else now + self.seconds
        return max(now, last_start + self.seconds)


@dataclass(frozen=True)
class Cron:
    """Run at the times of a cron expression, in local time."""

    expression: str

    def describe(self) -> str:
        """For humans and the API."""
        return f"cron {self.expression}"

    def next_after(self, last_start: float | None, now: float) -> float:
        """Wall time of the next run."""
        base = datetime.fromtimestamp(now).astimezone()
        return float(croniter(self.expression, base).get_next(float))


class Schedule(Protocol):
    """When a job runs: Every, Cron, or another with the same two methods."""

    def describe(self) -> str:
        """For humans and the API."""

    def next_after(self, last_start: float | None, now: float) -> float:
        """Wall time of the next run."""


@dataclass(frozen=True)
class Job:
    """Work on a schedule. `schedule()` returning None disables the job until a reload."""

    name: str
    owner: str  # "genosd" or the plugin's name
    run: Callable[[], Awaitable[Any]]
    schedule: Callable[[], Schedule | None]
    quiet: bool = False
    singleton: bool = False  # in a cluster, only the leader runs it (schedules, backups)


@dataclass
class JobStatus:
    """What the runner knows about one job."""

    name: str
    owner: str
    schedule: str = "disabled"
    runs: int = 0
    failures: int = 0
    running: bool = False
    last_run: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    last_ok: float | None = None
    next_run: float | None = None

    @property
    def failing(self) -> bool:
        """Whether the newest run failed."""
        return self.last_error is not None


Persist = Callable[[JobStatus], Awaitable[None]]


class JobRunner:
    """Runs each job in its own task; add and remove jobs while running (plugins, reloads)."""

    def __init__(
        self,
        events: EventBus,
        persist: Persist | None = None,
        clock: Callable[[], float] = time.time,
        leader: Callable[[], bool] = lambda: True,
    ):
        self.events = events
        self.leader = leader  # whether this node runs the singletons now
        self.clock = clock  # wall time; tests move it
        self.persist = persist
        self.jobs: dict[str, Job] = {}
        self.status: dict[str, JobStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.started = False

    def add(self, job: Job, previous: JobStatus | None = None) -> None:
        """Register a job (its task starts now if the runner runs); `previous` restores history."""
        if job.name in self.jobs:
            raise ValueError(f"job {job.name!r} is already registered")
        self.jobs[job.name] = job
        status = previous or JobStatus(job.name, job.owner)
        status.owner, status.running = job.owner, False
        self.status[job.name] = status
        if self.started:
            self._spawn(job)

    async def remove_owner(self, owner: str) -> None:
        """Stop and forget every job of `owner` (a plugin being unloaded)."""
        names = [name for name, job in self.jobs.items() if job.owner == owner]
        tasks = [self._tasks.pop(n) for n in names if n in self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for name in names:
            del self.jobs[name]
            del self.status[name]

    def start(self) -> None:
        """Start a task per job."""
        self.started = True
        for job in self.jobs.values():
            self._spawn(job)

    async def stop(self) -> None:
        """Cancel every job (a run in progress is interrupted)."""
        self.started = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def reschedule(self) -> None:
        """Wake every job to read its schedule again (after a reload)."""
        self._wake.set()
        self._wake = asyncio.Event()

    async def run_now(self, name: str) -> JobStatus:
        """Run a job once outside its schedule (KeyError for an unknown job)."""
        await self._run(self.jobs[name])
        return self.status[name]

    def _spawn(self, job: Job) -> None:
        self._tasks[job.name] = asyncio.create_task(self._loop(job), name=f"job:{job.name}")

    async def _loop(self, job: Job) -> None:
        status = self.status[job.name]
        last_start: float | None = None
        planned: tuple[Schedule, float] | None = None  # kept across wake-ups that change nothing
        while True:
            schedule = job.schedule()
            wake = self._wake
            if schedule is None:
                status.schedule, status.next_run, planned = "disabled", None, None
                await wake.wait()
                continue
            if planned is None or planned[0] != schedule:
                planned = (schedule, schedule.next_after(last_start, self.clock()))
            status.schedule, status.next_run = schedule.describe(), planned[1]
            delay = planned[1] - self.clock()
            if delay > 0:
                try:
                    await asyncio.wait_for(wake.wait(), delay)
                    continue  # rescheduled: read the schedule again
                except TimeoutError:
                    pass
            last_start, planned = self.clock(), None
            if job.singleton and not self.leader():
                continue  # the leader runs it; this node waits for the next time
            await self._run(job)

    async def _run(self, job: Job) -> None:
        status = self.status[job.name]
        was_failing = status.failing
        started = self.clock()
        status.running, status.last_run = True, started
        status.runs += 1
        try:
            await job.run()
        except asyncio.CancelledError:
            status.running = False
            raise
        except Exception as exc:
            status.failures += 1
            status.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.log(
                logging.DEBUG if was_failing else logging.WARNING,
                "job %s failed: %s",
                job.name,
                status.last_error,
            )
        else:
            status.last_error, status.last_ok = None, self.clock()
            if was_failing:
                log.info("job %s recovered", job.name)
        status.running = False
        status.last_duration = self.clock() - started
        self._announce(job, status, was_failing)
        if self.persist is not None:
            try:
                await self.persist(status)
            except Exception:
                log.exception("could not record the outcome of job %s", job.name)

    def _announce(self, job: Job, status: JobStatus, was_failing: bool) -> None:
        if job.quiet and status.failing == was_failing:
            return
        self.events.publish(
            "job",
            {
                "job": job.name,
                "owner": job.owner,
                "status": "failed" if status.failing else "ok",
                "recovered": was_failing and not status.failing,
                "duration": round(status.last_duration or 0.0, 3),
                "error": status.last_error,
                "next_run": status.next_run,
            },
        )


def save_status(db: sqlite3.Connection, status: JobStatus) -> None:
    """Persist one job's counters and last outcome."""
    with transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO job_state VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                status.name,
                status.runs,
                status.failures,
                status.last_run,
                status.last_duration,
                status.last_error,
                status.last_ok,
            ),
        )


def saved_statuses(db: sqlite3.Connection) -> dict[str, JobStatus]:
    """Every persisted job outcome by name (the owner is filled in when the job is added)."""
    rows = db.execute("SELECT * FROM job_state").fetchall()
    return {
        name: JobStatus(
            name,
            "",
            runs=runs,
            failures=failures,
            last_run=last_run,
            last_duration=duration,
            last_error=error,
            last_ok=last_ok,
        )
        for name, runs, failures, last_run, duration, error, last_ok in rows
    }


class JobsCollector(Collector):
    """Exports every job's state at scrape time."""

    def __init__(self, runner: JobRunner):
        self.runner = runner

    def collect(self) -> list[Metric]:
        """Runs, failures, last run, last success, duration, next run and failing per job."""
        labels = ["job", "owner"]
        runs = CounterMetricFamily("genosd_job_runs", "Runs of a scheduled job", labels=labels)
        failures = CounterMetricFamily(
            "genosd_job_failures", "Failed runs of a scheduled job", labels=labels
        )
        gauges = {
            "last_run": GaugeMetricFamily(
                "genosd_job_last_run_timestamp_seconds", "Start of the newest run", labels=labels
            ),
            "last_ok": GaugeMetricFamily(
                "genosd_job_last_success_timestamp_seconds",
                "End of the newest successful run",
                labels=labels,
            ),
            "last_duration": GaugeMetricFamily(
                "genosd_job_last_duration_seconds", "Duration of the newest run", labels=labels
            ),
            "next_run": GaugeMetricFamily(
                "genosd_job_next_run_timestamp_seconds", "When the job runs next", labels=labels
            ),
        }
        failing = GaugeMetricFamily(
            "genosd_job_failing", "1 when the newest run of the job failed", labels=labels
        )
        for status in sorted(self.runner.status.values(), key=lambda s: s.name):
            key = [status.name, status.owner]
            runs.add_metric(key, status.runs)
            failures.add_metric(key, status.failures)
            failing.add_metric(key, 1.0 if status.failing else 0.0)
            for attribute, family in gauges.items():
                value = getattr(status, attribute)
                if value is not None:
                    family.add_metric(key, value)
        return [runs, failures, failing, *gauges.values()]
