"""The event bus: live events (poll results, device status, runs, alerts) fanned out to subscribers.

Publishing never blocks and never grows memory without bound: each subscriber owns a bounded queue,
and a subscriber whose queue is full is marked `overflowed` and detached (the WebSocket layer then
closes it) instead of slowing the publisher or buffering for ever.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from genosd.auth.keys import Role


@dataclass(frozen=True)
class Topic:
    """A kind of event and the least role that may subscribe to it."""

    name: str
    role: Role
    description: str


CORE_TOPICS: tuple[Topic, ...] = (
    Topic("device.status", Role.viewer, "a device went up or down (SNMP reachability)"),
    Topic("poll.result", Role.viewer, "one SNMP poll finished: ok/failed, duration, sizes"),
    Topic("run", Role.viewer, "progress of runs (config deploys, playbooks)"),
    Topic("alert", Role.viewer, "something needs a human: raised by the core or plugins"),
    Topic("traps", Role.viewer, "an SNMP trap or inform was received (device, name, varbinds)"),
    Topic("syslog", Role.viewer, "a syslog message was received (device, severity, event, text)"),
    Topic(
        "incident",
        Role.viewer,
        "an alert fired or resolved; an incident opened, escalated, was acknowledged or resolved",
    ),
    Topic(
        "discovery",
        Role.viewer,
        "a discovery run started, finished or failed; proposals accepted or dismissed",
    ),
    Topic("job", Role.viewer, "a scheduled job ran: ok or failed, duration, next run"),
    Topic("system", Role.viewer, "the daemon itself: reloads, settings that need a restart"),
    Topic("audit", Role.admin, "every new audit-log entry, as it is written"),
)


@dataclass(frozen=True)
class Event:
    """One published event."""

    seq: int
    topic: str
    time: float
    data: dict[str, Any]

    @property
    def device(self) -> str | None:
        """The device the event is about, if any (used by device filters)."""
        value = self.data.get("device")
        return value if isinstance(value, str) else None

    def as_message(self) -> dict[str, Any]:
        """The WebSocket message carrying the event."""
        return {
            "type": "event",
            "seq": self.seq,
            "topic": self.topic,
            "time": self.time,
            "data": self.data,
        }


@dataclass(eq=False)
class Subscription:
    """One consumer: the topics it wants, optional device globs, and its bounded queue."""

    bus: EventBus
    queue: asyncio.Queue[Event]
    topics: set[str] = field(default_factory=set)
    devices: list[str] = field(default_factory=list)
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)
    keep_when_full: bool = False  # True: drop the newest event and count it, stay attached
    dropped: int = 0

    def wants(self, event: Event) -> bool:
        """Whether `event` matches the topics and device filter."""
        if event.topic not in self.topics:
            return False
        if not self.devices:
            return True
        device = event.device
        return device is not None and any(fnmatch.fnmatchcase(device, g) for g in self.devices)

    async def get(self) -> Event:
        """The next event for this subscriber."""
        return await self.queue.get()

    def close(self) -> None:
        """Stop receiving events."""
        self.bus.unsubscribe(self)


class EventBus:
    """Topic registry and fan-out; publish() is synchronous and O(subscribers)."""

    def __init__(self, topics: Iterable[Topic] = CORE_TOPICS, queue_size: int = 1000):
        self.topics: dict[str, Topic] = {t.name: t for t in topics}
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self.listeners: list[Callable[[Event], None]] = []  # called for every event, in order
        self._seq = itertools.count(1)
        self.published = 0
        self.dropped_subscribers = 0

    def add_topic(self, topic: Topic) -> None:
        """Register a topic (plugins add theirs at start-up)."""
        if topic.name in self.topics:
            raise ValueError(f"topic {topic.name!r} is already registered")
        self.topics[topic.name] = topic

    def subscribe(
        self,
        queue_size: int | None = None,
        topics: set[str] | None = None,
        *,
        keep_when_full: bool = False,
    ) -> Subscription:
        """A new subscription; by default a full queue detaches it (see `keep_when_full`)."""
        sub = Subscription(
            self,
            asyncio.Queue(maxsize=queue_size or self.queue_size),
            topics=set(topics or ()),
            keep_when_full=keep_when_full,
        )
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Detach a subscription; idempotent."""
        self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        """How many subscriptions are attached."""
        return len(self._subscribers)

    def has_subscribers(self, topic: str) -> bool:
        """Whether anyone listens to `topic` (lets producers skip expensive work)."""
        return any(topic in s.topics for s in self._subscribers)

    def publish(self, topic: str, data: dict[str, Any]) -> Event:
        """Deliver an event to every matching subscriber; overflowing subscribers are detached."""
        if topic not in self.topics:
            raise ValueError(f"unknown event topic {topic!r}")
        event = Event(next(self._seq), topic, time.time(), data)
        self.published += 1
        for listener in self.listeners:
            listener(event)
        for sub in list(self._subscribers):
            if not sub.wants(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped += 1
                if sub.keep_when_full:
                    continue
                self._subscribers.discard(sub)
                self.dropped_subscribers += 1
                sub.overflowed.set()
        return event
