"""Work items any node may run: a queue per poller group, results back to the node that asked.

A `Work` item names a kind (a registered handler: a device backup, facts, a playbook host), its
poller group, a JSON payload and optionally an idempotency key. `LocalQueue` runs items in this
process; genosd.cluster.redis_queue spreads them over the cluster's nodes with Redis Streams.
Handlers' failures are results (ok false, the error), never retried: a device that refused is
data. Only work whose node died is run again, by another node.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """One item: what to do (kind, payload), where (group), for whom (origin)."""

    id: str
    kind: str
    group: str
    payload: dict[str, Any]
    origin: str
    key: str | None = None  # idempotency: work with this key runs at most once to its end
    attempt: int = 1


@dataclass(frozen=True)
class WorkResult:
    """How an item ended, on which node, after how many attempts."""

    id: str
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    node: str | None = None
    attempts: int = 1


Handler = Callable[[Work], Awaitable[dict[str, Any]]]


class WorkQueue(Protocol):
    """Submit work, wait for its result; serve kinds of work."""

    distributed: bool  # False: every item runs in this process

    def serve(self, kind: str, handler: Handler) -> None:
        """Run `kind` items with `handler` on this node."""
        ...

    async def submit(
        self, kind: str, payload: dict[str, Any], *, group: str = "default", key: str | None = None
    ) -> str:
        """Queue an item; its id."""
        ...

    async def result(self, work_id: str, timeout: float) -> WorkResult:
        """The item's result (TimeoutError when none came in time)."""
        ...

    async def start(self) -> None:
        """Begin serving."""
        ...

    async def stop(self) -> None:
        """Stop serving (items in progress are left for another node to take over)."""
        ...


async def run_handler(handler: Handler | None, work: Work, node: str) -> WorkResult:
    """Run one item; a handler's exception is the item's failure, named."""
    if handler is None:
        return WorkResult(
            work.id, False, error=f"no handler for {work.kind!r} on {node}", node=node
        )
    try:
        data = await handler(work)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return WorkResult(work.id, False, error=text, node=node, attempts=work.attempt)
    return WorkResult(work.id, True, data, node=node, attempts=work.attempt)


class LocalQueue:
    """Every item runs in this process at once (a single node)."""

    distributed = False

    def __init__(self, node: str):
        self.node = node
        self._handlers: dict[str, Handler] = {}
        self._results: dict[str, asyncio.Future[WorkResult]] = {}
        self._done_keys: dict[str, WorkResult] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def serve(self, kind: str, handler: Handler) -> None:
        """Register a handler."""
        self._handlers[kind] = handler

    async def submit(
        self, kind: str, payload: dict[str, Any], *, group: str = "default", key: str | None = None
    ) -> str:
        """Start the item now."""
        work = Work(secrets.token_hex(8), kind, group, payload, self.node, key)
        future: asyncio.Future[WorkResult] = asyncio.get_running_loop().create_future()
        self._results[work.id] = future

        async def run() -> None:
            if key is not None and key in self._done_keys:
                future.set_result(self._done_keys[key])
                return
            result = await run_handler(self._handlers.get(kind), work, self.node)
            if key is not None and result.ok:
                self._done_keys[key] = result
            future.set_result(result)

        task = asyncio.create_task(run(), name=f"work:{kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return work.id

    async def result(self, work_id: str, timeout: float) -> WorkResult:
        """Wait for it."""
        future = self._results[work_id]
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            if future.done():
                self._results.pop(work_id, None)

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Cancel what still runs."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
