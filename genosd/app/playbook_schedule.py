"""Playbooks on their `schedule`: one job per scheduled playbook on the daemon's job runner.

A job is named `playbook:<name>` (visible in /api/v1/system and /metrics like every job) and
fires at the cron expression's times in the playbook's time zone (daylight saving handled by
croniter). The jobs follow `playbooks_dir`: `sync` after a reload adds, changes and removes them.

Misfire policy: when the daemon was down at a scheduled time, the missed run starts once at
start-up if it is at most `playbooks_misfire_grace` seconds late, and is skipped otherwise (never
one run per missed time). A run of the playbook still going, or waiting at an approval gate,
means the new one is skipped (a `run` event with status `skipped` says so): never two at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from genosd.app.core import AppCore
from genosd.app.jobs import Job, JobRunner
from genosd.app.playbook_engine import Tasks
from genosd.app.playbook_records import active_runs
from genosd.app.playbooks import BackgroundRuns, available, begin
from genosd.errors import GenosdError
from genosd.playbooks.model import Playbook

log = logging.getLogger(__name__)
OWNER = "playbooks"
SCHEDULE_ACTOR = "schedule"


@dataclass(frozen=True)
class ZonedCron:
    """Cron times in a time zone, with the misfire grace described above."""

    expression: str
    timezone: str
    grace: float
    last_run: float | None  # the newest scheduled start on record (survives restarts)

    def describe(self) -> str:
        """For humans and the API."""
        return f"cron {self.expression} ({self.timezone})"

    def next_after(self, last_start: float | None, now: float) -> float:
        """Wall time of the next run: now for a missed time within the grace, else the next."""
        base = datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        previous = float(croniter(self.expression, base).get_prev(float))
        ran = last_start if last_start is not None else self.last_run
        if ran is not None and ran < previous and now - previous <= self.grace:
            return now
        return float(croniter(self.expression, base).get_next(float))


class PlaybookSchedules:
    """Keeps one job per scheduled playbook on the runner."""

    def __init__(self, core: AppCore, jobs: JobRunner, runs: BackgroundRuns, tasks: Tasks) -> None:
        self.core, self.jobs, self.runs, self.tasks = core, jobs, runs, tasks
        self.playbooks: dict[str, Playbook] = {}

    async def sync(self, tasks: Tasks | None = None) -> None:
        """Read `playbooks_dir` again and make the jobs match its scheduled playbooks."""
        if tasks is not None:
            self.tasks = tasks
        found, problems = available(self.core, self.tasks)
        for problem in problems:
            log.warning("playbook not scheduled: %s", problem)
        wanted = {name: p for name, p in found.items() if p.schedule is not None}
        if wanted == self.playbooks:
            return
        previous = dict(self.jobs.status)
        await self.jobs.remove_owner(OWNER)
        self.playbooks = wanted
        for name in sorted(wanted):
            job = Job(
                f"playbook:{name}", OWNER, self._runner(name), self._schedule(name), singleton=True
            )
            self.jobs.add(job, previous.get(job.name))

    def _schedule(self, name: str):  # type: ignore[no-untyped-def]
        def schedule() -> ZonedCron | None:
            playbook = self.playbooks.get(name)
            if playbook is None or playbook.schedule is None:
                return None
            status = self.jobs.status.get(f"playbook:{name}")
            return ZonedCron(
                playbook.schedule.cron,
                playbook.schedule.timezone,
                self.core.settings.playbooks_misfire_grace,
                status.last_run if status else None,
            )

        return schedule

    def _runner(self, name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await self.fire(name)

        return run

    async def fire(self, name: str) -> int | None:
        """Start a scheduled run of `name` and wait for it to end or park at a gate; its id, or
        None when skipped because a run of it is still going."""
        playbook = self.playbooks[name]
        busy = await self.core.db.run(active_runs, name)
        if busy or self.runs.running(name):
            which = ", ".join(f"run {i} {s}" for i, _, s in busy) or "a run in flight"
            log.warning("scheduled run of playbook %s skipped: %s", name, which)
            self.core.events.publish(
                "run",
                {"kind": "playbook", "status": "skipped", "playbook": name, "reason": which},
            )
            return None
        record = await begin(self.core, playbook, self.tasks, actor=SCHEDULE_ACTOR)
        assert record.id is not None
        self.runs.start(self.core, record, self.tasks)
        finished = await self.runs.wait(record.id)
        if finished is not None and finished.status not in ("ok", "waiting_approval"):
            raise GenosdError(
                f"run {record.id} ended {finished.status}"
                + (f": {finished.stopped_because}" if finished.stopped_because else "")
            )
        return record.id
