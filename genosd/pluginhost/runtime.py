"""Running what plugins contributed to the event and metrics flow: their sinks, each isolated.

(Plugin jobs run in the application's job runner with the core's own jobs.) A sink has its own
bounded queue and task: when it cannot keep up, the newest items are dropped and counted (polling
never waits for a plugin); after MAX_CONSECUTIVE_ERRORS failures in a row the sink is stopped, its plugin marked
`degraded` and an `alert` event published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from genosd.events import EventBus
from genosd.metrics.model import Point
from genosd.pluginhost.contract import Sink
from genosd.pluginhost.manager import PluginHost, PluginRecord

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 10
CALL_TIMEOUT = 30.0  # seconds one sink call may take before it counts as an error


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


class PluginRuntime:
    """Owns the tasks of every active plugin's sinks; plugins start and stop one by one."""

    def __init__(self, host: PluginHost, bus: EventBus):
        self.host = host
        self.bus = bus
        self.sinks: list[SinkStatus] = []
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    def start(self) -> None:
        """Start the sinks of every active plugin."""
        for record in self.host.active:
            self.start_plugin(record)

    def start_plugin(self, record: PluginRecord) -> None:
        """Start a task per sink of one plugin."""
        tasks = self._tasks.setdefault(record.name, [])
        for sink in record.contributions.sinks:
            status = SinkStatus(record.name, sink)
            self.sinks.append(status)
            if sink.on_event is not None and sink.topics:
                tasks.append(
                    asyncio.create_task(
                        self._run_event_sink(status), name=f"plugin-sink:{sink.name}"
                    )
                )
            if sink.on_points is not None:
                status.points = asyncio.Queue(maxsize=sink.queue_size)
                tasks.append(
                    asyncio.create_task(
                        self._run_points_sink(status), name=f"plugin-points:{sink.name}"
                    )
                )

    async def stop_plugin(self, name: str) -> None:
        """Cancel one plugin's sink tasks and forget its sinks."""
        tasks = self._tasks.pop(name, [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.sinks = [s for s in self.sinks if s.plugin != name]

    async def stop(self) -> None:
        """Cancel every sink task."""
        for name in list(self._tasks):
            await self.stop_plugin(name)

    def deliver_points(self, points: list[Point]) -> None:
        """Hand committed points to every points sink without waiting."""
        for status in self.sinks:
            if status.points is None or status.stopped:
                continue
            try:
                status.points.put_nowait(points)
            except asyncio.QueueFull:
                status.dropped += 1

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
