"""The coordination interface the application uses, and its in-process implementation."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class Member:
    """A live node: its name, the poller groups it polls, and what it last reported."""

    node: str
    groups: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Lease:
    """A named lease held by this node until released or expired (token proves the holder)."""

    name: str
    token: str
    ttl: float


def reraise_if_cancelled() -> None:
    """After catching a Redis error: raise CancelledError if the task was being cancelled.

    redis-py turns a cancellation that arrives during a read into its own TimeoutError (a
    RedisError); a loop that carries on after Redis errors would then never stop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Coordinator(Protocol):
    """What the application needs to share work with other nodes."""

    node: str
    distributed: bool  # False: a single node, nothing to claim from anyone

    @property
    def active(self) -> bool:
        """Whether this node may work now (it renewed its membership in time)."""
        ...

    def owns(self, key: str, group: str) -> bool:
        """Whether this node owns `key` (a device) of poller group `group` now."""
        ...

    def owner(self, key: str, group: str) -> str | None:
        """The node that owns `key` now (None: no node polls that group)."""
        ...

    def is_leader(self) -> bool:
        """Whether this node runs the cluster's singletons (schedules, discovery)."""
        ...

    def members(self) -> list[Member]:
        """The live nodes, this one included while active."""
        ...

    async def claim_slot(self, key: str, slot: float, ttl: float) -> str | None:
        """Take `key` for the poll of `slot`: a token, or None when another node has it or the
        slot was polled already."""
        ...

    async def finish_slot(self, key: str, slot: float, token: str, remember: float) -> None:
        """The poll of `slot` is done: release the claim, remember the slot for `remember` s."""
        ...

    async def acquire(self, name: str, ttl: float) -> Lease | None:
        """Take lease `name` for `ttl` seconds; None while someone else holds it."""
        ...

    async def renew(self, lease: Lease) -> bool:
        """Extend a held lease by its ttl; False when it was lost."""
        ...

    async def release(self, lease: Lease) -> bool:
        """Give a lease back (only if still ours); whether it was."""
        ...

    async def holder(self, name: str) -> str | None:
        """The node holding lease `name` (None: nobody, or unknown)."""
        ...

    async def leases(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Held leases: name, holder, seconds until they expire unless renewed."""
        ...

    def report(self, info: dict[str, Any]) -> None:
        """What this node tells the others with its next heartbeat (devices, lag)."""
        ...

    async def start(self) -> None:
        """Join (the first heartbeat, or nothing for a single node)."""
        ...

    async def beat(self) -> None:
        """Renew this node's membership and read the others' (a failure is state, not raised)."""
        ...

    async def stop(self) -> None:
        """Leave: the others take this node's devices at once."""
        ...

    def describe(self) -> dict[str, Any]:
        """The backend's state for the API: backend, node, leader, connection."""
        ...


class LocalCoordinator:
    """A node on its own: it owns every device and leads; leases are kept in this process."""

    distributed = False

    def __init__(self, node: str, groups: tuple[str, ...] = (DEFAULT_GROUP,)):
        self.node = node
        self.groups = groups
        self._leases: dict[str, tuple[str, float]] = {}
        self._info: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        """Always: nothing can take this node's devices."""
        return True

    def owns(self, key: str, group: str) -> bool:
        """Every device (a group this node does not list is still polled: there is no one else)."""
        return True

    def owner(self, key: str, group: str) -> str | None:
        """This node."""
        return self.node

    def is_leader(self) -> bool:
        """Always."""
        return True

    def members(self) -> list[Member]:
        """This node."""
        return [Member(self.node, self.groups, dict(self._info))]

    async def claim_slot(self, key: str, slot: float, ttl: float) -> str | None:
        """Always granted: nobody else polls."""
        return "local"

    async def finish_slot(self, key: str, slot: float, token: str, remember: float) -> None:
        """Nothing to release."""

    async def acquire(self, name: str, ttl: float) -> Lease | None:
        """Take `name` unless this process holds it."""
        async with self._lock:
            held = self._leases.get(name)
            now = time.monotonic()
            if held is not None and held[1] > now:
                return None
            token = secrets.token_hex(8)
            self._leases[name] = (token, now + ttl)
            return Lease(name, token, ttl)

    async def renew(self, lease: Lease) -> bool:
        """Extend if still ours."""
        held = self._leases.get(lease.name)
        if held is None or held[0] != lease.token:
            return False
        self._leases[lease.name] = (lease.token, time.monotonic() + lease.ttl)
        return True

    async def release(self, lease: Lease) -> bool:
        """Drop if still ours."""
        held = self._leases.get(lease.name)
        if held is None or held[0] != lease.token:
            return False
        del self._leases[lease.name]
        return True

    async def holder(self, name: str) -> str | None:
        """This node while the lease is held here."""
        held = self._leases.get(name)
        return self.node if held is not None and held[1] > time.monotonic() else None

    async def leases(self, limit: int = 1000) -> list[dict[str, Any]]:
        """This process's held leases."""
        now = time.monotonic()
        return [
            {"name": name, "holder": self.node, "expires_in": round(until - now, 1)}
            for name, (_, until) in sorted(self._leases.items())
            if until > now
        ][:limit]

    def report(self, info: dict[str, Any]) -> None:
        """Kept for `members()`."""
        self._info = info

    async def start(self) -> None:
        """Nothing to join."""

    async def beat(self) -> None:
        """Nothing to renew."""

    async def stop(self) -> None:
        """Nothing to leave."""

    def describe(self) -> dict[str, Any]:
        """backend local."""
        return {"backend": "local", "node": self.node, "leader": self.node, "connected": True}
