"""The Redis coordinator against a real redis-server: membership, claims, leases, the leader."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from genosd.cluster import owner_of
from genosd.cluster.redis_coordinator import RedisCoordinator
from genosd.settings_cluster import ClusterSettings
from tests.servers import RedisServer


def _node(server: RedisServer, name: str, **extra: object) -> RedisCoordinator:
    settings = ClusterSettings(
        backend="redis", redis_url=server.url, node=name, heartbeat=0.2, node_ttl=1.0, **extra
    )
    return RedisCoordinator(settings)


def test_rendezvous_moves_about_one_in_n_devices_when_a_node_joins():
    devices = [f"sw{n}" for n in range(6000)]
    three = {d: owner_of(d, ["a", "b", "c"]) for d in devices}
    four = {d: owner_of(d, ["a", "b", "c", "d"]) for d in devices}
    moved = [d for d in devices if three[d] != four[d]]
    assert all(four[d] == "d" for d in moved)  # only to the newcomer, never between old nodes
    assert 0.20 < len(moved) / len(devices) < 0.30
    shares = [sum(1 for d in devices if three[d] == n) / len(devices) for n in "abc"]
    assert all(0.30 < share < 0.37 for share in shares)
    assert owner_of("sw1", []) is None


def test_cluster_settings_refuse_what_would_leak_or_flap():
    with pytest.raises(ValidationError, match="no password in the URL"):
        ClusterSettings(redis_url="redis://:hunter2@127.0.0.1:6379/0")
    with pytest.raises(ValidationError, match="redis://"):
        ClusterSettings(redis_url="http://127.0.0.1:6379")
    with pytest.raises(ValidationError, match="twice heartbeat"):
        ClusterSettings(heartbeat=5, node_ttl=6)
    with pytest.raises(ValidationError, match="poller group"):
        ClusterSettings(poller_groups=[])


async def test_a_slot_is_claimed_once_and_remembered_after_release(redis_server):
    a, b = _node(redis_server, "a"), _node(redis_server, "b")
    await a.start()
    await b.start()
    try:
        token = await a.claim_slot("r1", 1000.0, ttl=5)
        assert token is not None and token.startswith("a:")
        assert await b.claim_slot("r1", 1000.0, ttl=5) is None  # held
        await b.finish_slot("r1", 1000.0, "b:forged", remember=30)  # not b's: nothing happens
        assert await b.claim_slot("r1", 1000.0, ttl=5) is None
        await a.finish_slot("r1", 1000.0, token, remember=30)
        assert await b.claim_slot("r1", 1000.0, ttl=5) is None  # done already
        assert await b.claim_slot("r1", 1060.0, ttl=5) is not None  # the next slot is free
        assert await a.claim_slot("r2", 1000.0, ttl=5) is not None  # devices are independent
    finally:
        await a.stop()
        await b.stop()


async def test_leases_are_renewed_and_released_only_by_their_holder(redis_server):
    a, b = _node(redis_server, "a"), _node(redis_server, "b")
    await a.start()
    await b.start()
    try:
        lease = await a.acquire("deploy:r1", ttl=2.0)
        assert lease is not None
        assert await b.acquire("deploy:r1", ttl=2.0) is None
        assert await b.holder("deploy:r1") == "a"
        stolen = type(lease)(lease.name, "b:guess", lease.ttl)
        assert not await b.release(stolen) and not await b.renew(stolen)
        await asyncio.sleep(1.2)
        assert await a.renew(lease)
        await asyncio.sleep(1.2)  # past the first ttl, within the renewed one
        await b.beat()  # b is a live member: refused below for the lease, not for silence
        assert b.active
        assert await b.acquire("deploy:r1", ttl=2.0) is None
        assert await a.release(lease)
        assert not await a.release(lease)  # once
        assert await b.acquire("deploy:r1", ttl=2.0) is not None
    finally:
        await a.stop()
        await b.stop()


async def test_members_leader_and_a_node_that_loses_redis_stops(redis_server):
    a, b = _node(redis_server, "a"), _node(redis_server, "b", poller_groups=["default", "dc2"])
    await a.start()
    await b.start()
    await a.beat()
    assert [m.node for m in a.members()] == ["a", "b"]
    assert [m.groups for m in a.members()] == [("default",), ("default", "dc2")]
    assert a.is_leader() != b.is_leader()
    assert a.owner("x", "dc2") == "b" and not a.owns("x", "dc2") and b.owns("x", "dc2")
    owners = {a.owner(f"d{n}", "default") for n in range(50)}
    assert owners == {"a", "b"}
    assert all(a.owns(f"d{n}", "default") != b.owns(f"d{n}", "default") for n in range(50))

    leader, other = (a, b) if a.is_leader() else (b, a)
    await leader.stop()  # leaving hands over at once
    await other.beat()
    assert other.is_leader() and [m.node for m in other.members()] == [other.node]
    assert all(other.owns(f"d{n}", "default") for n in range(50))

    redis_server.stop()
    await other.beat()  # fails: still active until node_ttl after the last good beat
    assert other.last_error is not None
    await asyncio.sleep(1.1)
    await other.beat()
    assert not other.active and not other.is_leader()
    assert not other.owns("d1", "default")
    assert await other.claim_slot("d1", 5000.0, ttl=1) is None

    redis_server.start()  # an empty Redis: the node rejoins by itself
    await other.beat()
    assert other.active and other.last_error is None and other.is_leader()
    assert other.owns("d1", "default")
    await other.stop()
