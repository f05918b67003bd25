"""Work spread over the cluster's nodes with Redis Streams and consumer groups.

* Each poller group has a stream `<prefix>:work:<group>`, read by the consumer group `genosd`;
  a node reads the streams of its own poller groups, `cluster.work_concurrency` items at a time.
* While a node runs an item it touches it (XCLAIM to itself, which resets its idle time) every
  third of `cluster.work_lease`. An item idle for longer belonged to a node that died or hung:
  any node takes it over (XAUTOCLAIM) and runs it again, up to `cluster.work_attempts` times.
* Work with an idempotency key runs to its end at most once: the first attempt marks the key
  started, the end marks it done with the result. A later attempt returns the stored result, or,
  when an earlier attempt was cut off mid-way, fails saying so instead of repeating it (a deploy
  is planned again by a person; devices with commit-confirm have reverted by themselves).
* Results go to the asking node's stream `<prefix>:results:<node>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from genosd.cluster.coordinator import reraise_if_cancelled
from genosd.cluster.workqueue import Handler, Work, WorkResult, run_handler
from genosd.settings_cluster import ClusterSettings

log = logging.getLogger(__name__)
GROUP = "genosd"
_BLOCK_MS = 1000
_KEEP = 86400  # seconds idempotency records and attempt counts are kept


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(batches: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stream, message id, fields) of an XREAD/XREADGROUP reply."""
    for stream, messages in cast(list[Any], batches or []):
        for message_id, fields in messages:
            yield _text(stream), _text(message_id), dict(fields)


class RedisQueue:
    """A node's side of the cluster's work queue."""

    distributed = True

    def __init__(self, settings: ClusterSettings, redis: Redis | None = None):
        self.settings = settings
        self.node = settings.node
        password = settings.redis_password
        # its own connections: blocking reads must not wait behind heartbeats, nor time out
        self.redis: Redis = redis or Redis.from_url(
            settings.redis_url,
            password=password.get_secret_value() if password else None,
            decode_responses=True,
            socket_timeout=_BLOCK_MS / 1000 + 5,
            socket_connect_timeout=5,
            client_name=f"genosd:{self.node}:work",
        )
        self._prefix = settings.prefix
        self._handlers: dict[str, Handler] = {}
        self._waiting: dict[str, asyncio.Future[WorkResult]] = {}
        self._early: dict[str, WorkResult] = {}  # results that came before anyone waited
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._results_from = "0-0"  # set to the stream's end at start
        self._stopping = False
        self.reclaimed = 0

    def _stream(self, group: str) -> str:
        return f"{self._prefix}:work:{group}"

    def _results(self, node: str) -> str:
        return f"{self._prefix}:results:{node}"

    # ---- asking ------------------------------------------------------------------------------

    def serve(self, kind: str, handler: Handler) -> None:
        """Run `kind` items on this node."""
        self._handlers[kind] = handler

    async def submit(
        self, kind: str, payload: dict[str, Any], *, group: str = "default", key: str | None = None
    ) -> str:
        """XADD the item to its group's stream; its id."""
        work_id = secrets.token_hex(8)
        fields = {
            "id": work_id,
            "kind": kind,
            "payload": json.dumps(payload),
            "origin": self.node,
            "key": key or "",
        }
        self._waiting[work_id] = asyncio.get_running_loop().create_future()
        await self.redis.xadd(self._stream(group), fields)  # type: ignore[arg-type]
        return work_id

    async def result(self, work_id: str, timeout: float) -> WorkResult:
        """Wait for the item's result (TimeoutError after `timeout`)."""
        early = self._early.pop(work_id, None)
        if early is not None:
            return early
        future = self._waiting.setdefault(work_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            if future.done():
                self._waiting.pop(work_id, None)

    async def _read_results(self) -> None:
        stream = self._results(self.node)
        while not self._stopping:
            try:
                batches = await self.redis.xread({stream: self._results_from}, block=_BLOCK_MS)
            except (RedisError, OSError) as exc:
                reraise_if_cancelled()
                log.debug("work results: %s", exc)
                await asyncio.sleep(1)
                continue
            for _, message_id, fields in _entries(batches):
                self._results_from = message_id
                self._deliver(fields)
                await self.redis.xdel(stream, message_id)

    def _deliver(self, fields: dict[str, Any]) -> None:
        try:
            result = WorkResult(**json.loads(fields["result"]))
        except (KeyError, TypeError, ValueError):
            log.warning("work results: an unreadable result was dropped")
            return
        future = self._waiting.get(result.id)
        if future is None:
            if len(self._early) < 10_000:
                self._early[result.id] = result
            return
        if not future.done():
            future.set_result(result)

    # ---- serving -----------------------------------------------------------------------------

    async def _ensure_groups(self) -> None:
        for group in self.settings.poller_groups:
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
                await self.redis.xgroup_create(self._stream(group), GROUP, id="0", mkstream=True)

    async def _regroup(self, error: ResponseError) -> bool:
        """NOGROUP (Redis came back empty): make the consumer groups again; whether it was."""
        if "NOGROUP" not in str(error):
            return False
        await self._ensure_groups()
        return True

    async def _read_work(self) -> None:
        streams: dict[Any, Any] = {self._stream(g): ">" for g in self.settings.poller_groups}
        while not self._stopping:
            # read only what can start now: an item read but waiting would look idle and be
            # taken over by another node
            free = self.settings.work_concurrency - len(self._tasks)
            if free <= 0:
                await asyncio.sleep(0.05)
                continue
            try:
                batches = await self.redis.xreadgroup(
                    GROUP, self.node, streams, count=free, block=_BLOCK_MS
                )
            except ResponseError as exc:
                reraise_if_cancelled()
                if await self._regroup(exc):
                    continue
                raise
            except (RedisError, OSError) as exc:
                reraise_if_cancelled()
                log.debug("work queue: %s", exc)
                await asyncio.sleep(1)
                continue
            for stream, message_id, fields in _entries(batches):
                self._spawn(stream, message_id, fields)

    async def _reclaim(self) -> None:
        lease_ms = int(self.settings.work_lease * 1000)
        while not self._stopping:
            await asyncio.sleep(self.settings.work_lease / 2)
            for group in self.settings.poller_groups:
                stream = self._stream(group)
                try:
                    reply = await self.redis.xautoclaim(
                        stream, GROUP, self.node, lease_ms, start_id="0-0", count=50
                    )
                except ResponseError as exc:
                    reraise_if_cancelled()
                    await self._regroup(exc)
                    continue
                except (RedisError, OSError):
                    reraise_if_cancelled()
                    continue
                for message_id, fields in reply[1]:
                    if fields:
                        self.reclaimed += 1
                        self._spawn(stream, _text(message_id), fields)

    def _spawn(self, stream: str, message_id: str, fields: dict[str, Any]) -> None:
        task = asyncio.create_task(self._work(stream, message_id, fields), name="work")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, stream: str, message_id: str, fields: dict[str, Any]) -> None:
        keeper = asyncio.create_task(self._touch(stream, message_id))
        try:
            await self._run(stream, message_id, fields)
        except (RedisError, OSError) as exc:
            reraise_if_cancelled()
            # left pending: this node or another takes it over once it has been idle a lease
            log.warning("work item %s not finished: %s", message_id, exc)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _run(self, stream: str, message_id: str, fields: dict[str, Any]) -> None:
        try:
            work = Work(
                fields["id"],
                fields["kind"],
                stream.rsplit(":", 1)[-1],
                json.loads(fields["payload"]),
                fields["origin"],
                fields.get("key") or None,
            )
        except (KeyError, TypeError, ValueError):
            log.warning("work queue: an unreadable item %s was dropped", message_id)
            await self._done(stream, message_id)
            return
        attempts = int(await self.redis.incr(f"{self._prefix}:attempts:{work.id}"))
        await self.redis.expire(f"{self._prefix}:attempts:{work.id}", _KEEP)
        work = Work(work.id, work.kind, work.group, work.payload, work.origin, work.key, attempts)
        if attempts > self.settings.work_attempts:
            result = WorkResult(
                work.id,
                False,
                error=f"gave up after {attempts - 1} attempts: the nodes running it died",
                node=self.node,
                attempts=attempts - 1,
            )
        else:
            result = await self._attempt(stream, message_id, work)
        await self.redis.xadd(
            self._results(work.origin),
            {"result": json.dumps(result.__dict__)},
            maxlen=100_000,
            approximate=True,
        )
        await self._done(stream, message_id)

    async def _attempt(self, stream: str, message_id: str, work: Work) -> WorkResult:
        idem = f"{self._prefix}:idem:{work.key}" if work.key else None
        if idem is not None:
            started = await self.redis.set(idem, f"started:{self.node}", nx=True, ex=_KEEP)
            if not started:
                seen = _text(await self.redis.get(idem) or "")
                if seen.startswith("done:"):  # the stored result, answering this item
                    return replace(WorkResult(**json.loads(seen[5:])), id=work.id)
                return WorkResult(
                    work.id,
                    False,
                    error=f"an earlier attempt ({seen.split(':', 1)[-1]}) was cut off mid-way; "
                    "not repeated: check the device and plan it again",
                    node=self.node,
                    attempts=work.attempt,
                )
        result = await run_handler(self._handlers.get(work.kind), work, self.node)
        if idem is not None:
            await self.redis.set(idem, "done:" + json.dumps(result.__dict__), ex=_KEEP)
        return result

    async def _touch(self, stream: str, message_id: str) -> None:
        """Keep the item ours while it runs (its idle time back to zero)."""
        while not self._stopping:
            await asyncio.sleep(self.settings.work_lease / 3)
            try:
                await self.redis.xclaim(stream, GROUP, self.node, 0, [message_id], justid=True)
            except (RedisError, OSError):
                reraise_if_cancelled()

    async def _done(self, stream: str, message_id: str) -> None:
        await self.redis.xack(stream, GROUP, message_id)
        await self.redis.xdel(stream, message_id)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the consumer groups, then read work, take over dead nodes' and read results."""
        await self._ensure_groups()
        # results from the end as it is now: an id, not "$", which would miss a result added
        # between two blocking reads
        last = await self.redis.xrevrange(self._results(self.node), count=1)
        self._results_from = _text(last[0][0]) if last else "0-0"
        self._loops = [
            asyncio.create_task(self._read_results(), name="work-results"),
            asyncio.create_task(self._read_work(), name="work-read"),
            asyncio.create_task(self._reclaim(), name="work-reclaim"),
        ]

    async def stop(self) -> None:
        """Stop reading; items in progress are cancelled unacknowledged (another node retries)."""
        # the flag as well as the cancellation: redis-py can swallow a cancellation that meets
        # its own timeout, and then a loop ends at its next turn (a blocking read at most)
        self._stopping = True
        tasks = [*self._loops, *self._tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_BLOCK_MS / 1000 + 2)
        self._loops.clear()
        await self.redis.aclose()
