"""Several genosd nodes sharing the work through Redis (or Valkey: only commands both have).

* Membership: every `heartbeat` seconds a node writes `<prefix>:node:<name>` (its groups and what
  it reports) with an expiry of `node_ttl`, and reads the others'. Each node computes device
  ownership locally by rendezvous hashing over the live nodes of the device's poller group.
* A node that could not renew its heartbeat within `node_ttl` of sending the last successful one
  is no longer active and stops polling by itself, before Redis forgets it (the expiry counts from
  when Redis wrote the key, later than when the node sent it).
* Polls: before each poll a node claims the device for the slot with one script: refused when
  the slot is already done or another node holds the claim; the claim is released by an atomic
  compare-and-delete that also records the slot as done, so no slot is polled twice even while
  ownership moves.
* Leases (deploys, the leader of singletons): SET NX PX, renewed and released only by the token's
  holder (compare-and-expire, compare-and-delete).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from genosd.cluster.coordinator import Lease, Member, reraise_if_cancelled
from genosd.cluster.ownership import owner_of
from genosd.settings_cluster import ClusterSettings

log = logging.getLogger(__name__)

# KEYS: claim, done; ARGV: token, slot (ms), ttl (ms)
_CLAIM = """
local done = redis.call('GET', KEYS[2])
if done and tonumber(done) >= tonumber(ARGV[2]) then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then return 1 end
return -1
"""
# KEYS: claim, done; ARGV: token, slot (ms), remember (ms)
_FINISH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# KEYS: lease; ARGV: token, ttl (ms)
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease; ARGV: token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: leader; ARGV: node, ttl (ms). Returns the leader after this call.
_LEAD = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return ARGV[1]
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return current
"""


def _text(value: str | bytes) -> str:
    """A reply as text (the client decodes replies; scripts' may come as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCoordinator:
    """A cluster node whose membership, claims and leases live in Redis."""

    distributed = True

    def __init__(
        self, settings: ClusterSettings, redis: Redis | None = None, *, member: bool = True
    ):
        self.settings = settings
        self.member = member  # False: a CLI process that takes leases but never joins
        self.node = settings.node
        self.groups = tuple(settings.poller_groups)
        timeout = min(settings.heartbeat, settings.node_ttl / 3)
        password = settings.redis_password
        self.redis: Redis = redis or Redis.from_url(
            settings.redis_url,
            password=password.get_secret_value() if password else None,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # a failed beat is retried by the next beat
            client_name=f"genosd:{self.node}",
        )
        prefix = settings.prefix
        self._nodes_key = f"{prefix}:nodes"
        self._leader_key = f"{prefix}:leader"
        self._prefix = prefix
        self._claim = self.redis.register_script(_CLAIM)
        self._finish = self.redis.register_script(_FINISH)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._lead = self.redis.register_script(_LEAD)
        self._alive_until = 0.0  # monotonic time this node's membership surely lasts until
        self._members: list[Member] = []
        self._by_group: dict[str, list[str]] = {}
        # (device, group) -> owner under the current membership: every poll slot and heartbeat
        # asks, and 10,000 devices x N nodes hashes every 2 s need not be redone
        self._owners: dict[tuple[str, str], str | None] = {}
        self._leader: str | None = None
        self._info: dict[str, Any] = {}
        self._started = time.time()
        self.last_error: str | None = None
        self.beats = 0

    # ---- membership -------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the last renewal still holds: an inactive node polls nothing."""
        return time.monotonic() < self._alive_until

    def _node_key(self, node: str) -> str:
        return f"{self._prefix}:node:{node}"

    async def observe(self) -> None:
        """Read the members and the leader without joining (the CLI's view); RedisError if down."""
        names = sorted(_text(n) for n in await self.redis.smembers(self._nodes_key))
        values = await self.redis.mget([self._node_key(n) for n in names]) if names else []
        self._apply([(n, v) for n, v in zip(names, values, strict=True) if v is not None])
        leader = await self.redis.get(self._leader_key)
        self._leader = _text(leader) if leader is not None else None

    def _apply(self, found: list[tuple[str, str | bytes]]) -> None:
        members = []
        for name, value in found:
            try:
                data = json.loads(value)
                members.append(Member(name, tuple(data.get("groups", ())), data))
            except (ValueError, AttributeError):
                log.warning("cluster: node %s wrote an unreadable heartbeat; ignored", name)
        self._members = members
        by_group: dict[str, list[str]] = {}
        for member in members:
            for group in member.groups:
                by_group.setdefault(group, []).append(member.node)
        if by_group != self._by_group:
            self._owners.clear()  # membership changed: owners are worked out again
        self._by_group = by_group

    async def beat(self) -> None:
        """Renew this node, read the others and the leader; a failure is logged once per outage."""
        sent = time.monotonic()
        ttl_ms = int(self.settings.node_ttl * 1000)
        info = {"groups": list(self.groups), "started": self._started, **self._info}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self._node_key(self.node), json.dumps(info), px=ttl_ms)
                pipe.sadd(self._nodes_key, self.node)
                pipe.smembers(self._nodes_key)
                _, _, names = await pipe.execute()
            ordered = sorted(_text(n) for n in names)
            values = await self.redis.mget([self._node_key(n) for n in ordered]) if ordered else []
            leader = await self._lead(keys=[self._leader_key], args=[self.node, ttl_ms])
            gone = [n for n, value in zip(ordered, values, strict=True) if value is None]
            if gone:
                await self.redis.srem(self._nodes_key, *gone)
        except (RedisError, OSError) as exc:
            reraise_if_cancelled()
            self._lost(f"{type(exc).__name__}: {exc}")
            return
        self._apply([(n, v) for n, v in zip(ordered, values, strict=True) if v is not None])
        self._leader = _text(leader)
        self._alive_until = sent + self.settings.node_ttl
        self.beats += 1
        if self.last_error is not None:
            log.info("cluster: Redis answers again; %s polls its devices", self.node)
            self.last_error = None

    def _lost(self, error: str) -> None:
        if self.last_error is None:
            left = max(0.0, self._alive_until - time.monotonic())
            log.warning(
                "cluster: cannot reach Redis (%s); %s stops polling in %.1fs unless it returns",
                error,
                self.node,
                left,
            )
        self.last_error = error

    def owner(self, key: str, group: str) -> str | None:
        """The live node of `group` with the highest rendezvous weight for `key`."""
        cache_key = (key, group)
        if cache_key not in self._owners:
            self._owners[cache_key] = owner_of(key, self._by_group.get(group, ()))
        return self._owners[cache_key]

    def owns(self, key: str, group: str) -> bool:
        """Whether this node owns `key` now (never while inactive)."""
        return self.active and self.owner(key, group) == self.node

    def is_leader(self) -> bool:
        """Whether this node holds the leader lease now."""
        return self.active and self._leader == self.node

    @property
    def leader(self) -> str | None:
        """The leader as last read."""
        return self._leader

    def members(self) -> list[Member]:
        """The live nodes as last read."""
        return list(self._members)

    def report(self, info: dict[str, Any]) -> None:
        """Sent with the next heartbeat."""
        self._info = info

    # ---- claims and leases -----------------------------------------------------------------

    async def claim_slot(self, key: str, slot: float, ttl: float) -> str | None:
        """Claim `key` for `slot`; None if done, held elsewhere, inactive or Redis unreachable."""
        if not self.active:
            return None
        token = f"{self.node}:{secrets.token_hex(6)}"
        try:
            taken = await self._claim(
                keys=[f"{self._prefix}:poll:{key}", f"{self._prefix}:polled:{key}"],
                args=[token, int(slot * 1000), max(1, int(ttl * 1000))],
            )
        except (RedisError, OSError) as exc:
            reraise_if_cancelled()
            self._lost(f"{type(exc).__name__}: {exc}")
            return None
        return token if taken == 1 else None

    async def finish_slot(self, key: str, slot: float, token: str, remember: float) -> None:
        """Release the claim and mark the slot done (a lost claim is left to expire)."""
        try:
            await self._finish(
                keys=[f"{self._prefix}:poll:{key}", f"{self._prefix}:polled:{key}"],
                args=[token, int(slot * 1000), max(1, int(remember * 1000))],
            )
        except (RedisError, OSError) as exc:
            reraise_if_cancelled()
            self._lost(f"{type(exc).__name__}: {exc}")

    async def acquire(self, name: str, ttl: float) -> Lease | None:
        """SET NX PX `<prefix>:lease:<name>`; None while held (or Redis unreachable)."""
        if self.member and not self.active:
            return None
        token = f"{self.node}:{secrets.token_hex(8)}"
        try:
            taken = await self.redis.set(
                f"{self._prefix}:lease:{name}", token, nx=True, px=max(1, int(ttl * 1000))
            )
        except (RedisError, OSError) as exc:
            reraise_if_cancelled()
            self._lost(f"{type(exc).__name__}: {exc}")
            return None
        return Lease(name, token, ttl) if taken else None

    async def renew(self, lease: Lease) -> bool:
        """Extend while still ours."""
        try:
            renewed = await self._renew(
                keys=[f"{self._prefix}:lease:{lease.name}"],
                args=[lease.token, max(1, int(lease.ttl * 1000))],
            )
        except (RedisError, OSError):
            reraise_if_cancelled()
            return False
        return bool(renewed)

    async def release(self, lease: Lease) -> bool:
        """Delete while still ours."""
        try:
            released = await self._release(
                keys=[f"{self._prefix}:lease:{lease.name}"], args=[lease.token]
            )
        except (RedisError, OSError):
            reraise_if_cancelled()
            return False
        return bool(released)

    async def holder(self, name: str) -> str | None:
        """Which node holds lease `name` (None: nobody, or Redis unreachable)."""
        try:
            token = await self.redis.get(f"{self._prefix}:lease:{name}")
        except (RedisError, OSError):
            reraise_if_cancelled()
            return None
        return str(token).rsplit(":", 1)[0] if token else None

    async def leases(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Held leases (SCAN of `<prefix>:lease:*`, at most `limit`); [] if Redis is down."""
        prefix = f"{self._prefix}:lease:"
        try:
            names = []
            async for key in self.redis.scan_iter(match=prefix + "*", count=500):
                names.append(_text(key))
                if len(names) >= limit:
                    break
            names.sort()
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.get(name)
                    pipe.pttl(name)
                replies = await pipe.execute()
        except (RedisError, OSError):
            reraise_if_cancelled()
            return []
        held = []
        for name, token, ttl in zip(names, replies[::2], replies[1::2], strict=True):
            if token is None or ttl is None or int(ttl) < 0:
                continue  # expired between the scan and the read
            held.append(
                {
                    "name": name.removeprefix(prefix),
                    "holder": _text(token).rsplit(":", 1)[0],
                    "expires_in": round(int(ttl) / 1000, 1),
                }
            )
        return held

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """The first heartbeat (a node that cannot reach Redis starts inactive and keeps trying)."""
        if self.member:
            await self.beat()

    async def stop(self) -> None:
        """Leave at once (the others take this node's devices on their next beat)."""
        self._alive_until = 0.0
        if not self.member:
            await self.redis.aclose()
            return
        try:
            await self.redis.delete(self._node_key(self.node))
            await self.redis.srem(self._nodes_key, self.node)
            await self._release(keys=[self._leader_key], args=[self.node])
        except (RedisError, OSError) as exc:
            log.info("cluster: could not say goodbye (%s); the others notice by expiry", exc)
        await self.redis.aclose()

    def describe(self) -> dict[str, Any]:
        """backend, node, leader, whether this node is active, the last error."""
        return {
            "backend": "redis",
            "node": self.node,
            "leader": self._leader,
            "connected": self.last_error is None and self.active,
            "active": self.active,
            "error": self.last_error,
            "heartbeat": self.settings.heartbeat,
            "node_ttl": self.settings.node_ttl,
        }
