"""Running what plugins contributed: scheduled jobs and sinks, each isolated from the rest.

A job that raises is recorded and runs again at its next time. A sink has its own bounded queue and
task: when it cannot keep up, the newest items are dropped and counted (polling never waits for a
plugin); after MAX_CONSECUTIVE_ERRORS failures in a row the sink is stopped, its plugin marked
`degraded` and an `alert` event published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from croniter import croniter

from genosd.events import EventBus
from genosd.metrics.model import Point
from genosd.pluginhost.contract import Job, Sink
from genosd.pluginhost.manager import PluginHost, PluginRecord

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 10
CALL_TIMEOUT = 30.0  # seconds one sink call may take before it counts as an error


@dataclass
class JobStatus:
    """What the host knows about one job."""

    plugin: str
    job: Job
    runs: int = 0
    failures: int = 0
    last_run: float | None = None
    last_duration: float | None = None
    last_error: str | None = None
    next_run: float | None = None


@dataclass
class SinkStatus:
    """What the host knows about one sink."""

    plugin: str
    sink: Sink
    delivered: int = 0
    errors: int = 0
    dropped: int = 0
    consecutive_errors: int = 0
    stopped: bool = False
    last_error: str | None = None
    points: asyncio.Queue[list[Point]] | None = field(default=None, repr=False)


def next_run(job: Job, now: float) -> float:
    """Wall time of the job's next run after `now`."""
    if job.every is not None:
        return now + job.every
    assert job.cron is not None
    return float(croniter(job.cron, datetime.fromtimestamp(now).astimezone()).get_next(float))


class PluginRuntime:
    """Owns the tasks of every active plugin's jobs and sinks."""

    def __init__(self, host: PluginHost, bus: EventBus):
        self.host = host
        self.bus = bus
        self.jobs: list[JobStatus] = []
        self.sinks: list[SinkStatus] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start a task per job and per sink."""
        for record in self.host.active:
            for job in record.contributions.jobs:
                status = JobStatus(record.name, job)
                self.jobs.append(status)
                self._spawn(self._run_job(status), f"plugin-job:{record.name}.{job.name}")
            for sink in record.contributions.sinks:
                sink_status = SinkStatus(record.name, sink)
                self.sinks.append(sink_status)
                if sink.on_event is not None and sink.topics:
                    self._spawn(self._run_event_sink(sink_status), f"plugin-sink:{sink.name}")
                if sink.on_points is not None:
                    sink_status.points = asyncio.Queue(maxsize=sink.queue_size)
                    self._spawn(self._run_points_sink(sink_status), f"plugin-points:{sink.name}")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))  # type: ignore[arg-type]

    async def stop(self) -> None:
        """Cancel every job and sink task."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def deliver_points(self, points: list[Point]) -> None:
        """Hand committed points to every points sink without waiting."""
        for status in self.sinks:
            if status.points is None or status.stopped:
                continue
            try:
                status.points.put_nowait(points)
            except asyncio.QueueFull:
                status.dropped += 1

    async def _run_job(self, status: JobStatus) -> None:
        while True:
            status.next_run = next_run(status.job, time.time())
            await asyncio.sleep(max(0.0, status.next_run - time.time()))
            started = time.time()
            status.runs += 1
            status.last_run = started
            try:
                await status.job.run()
                status.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                status.failures += 1
                status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "plugin %s job %s failed: %s", status.plugin, status.job.name, status.last_error
                )
            status.last_duration = time.time() - started

    async def _run_event_sink(self, status: SinkStatus) -> None:
        sub = self.bus.subscribe(
            status.sink.queue_size, set(status.sink.topics), keep_when_full=True
        )
        handler = status.sink.on_event
        assert handler is not None
        try:
            while not status.stopped:
                event = await sub.get()
                status.dropped = sub.dropped
                await self._call(status, handler, event.topic, event.data)
        finally:
            sub.close()

    async def _run_points_sink(self, status: SinkStatus) -> None:
        handler = status.sink.on_points
        assert handler is not None and status.points is not None
        while not status.stopped:
            batch = await status.points.get()
            await self._call(status, handler, batch)

    async def _call(
        self, status: SinkStatus, handler: Callable[..., Awaitable[None]], *args: Any
    ) -> None:
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                await handler(*args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            status.errors += 1
            status.consecutive_errors += 1
            status.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if status.consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                self._stop_sink(status)
            return
        status.delivered += 1
        status.consecutive_errors = 0

    def _stop_sink(self, status: SinkStatus) -> None:
        status.stopped = True
        record: PluginRecord = self.host.records[status.plugin]
        record.state = "degraded"
        record.error = (
            f"sink {status.sink.name} stopped after {status.consecutive_errors} "
            f"consecutive errors; last: {status.last_error}"
        )
        log.error("plugin %s: %s", status.plugin, record.error)
        with contextlib.suppress(ValueError):
            self.bus.publish(
                "alert",
                {
                    "source": "genosd",
                    "severity": "warning",
                    "kind": "plugin_degraded",
                    "plugin": status.plugin,
                    "message": record.error,
                },
            )
