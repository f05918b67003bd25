"""The cluster's work queue on Redis Streams (a real redis-server): work runs on a node of its
poller group, a dead node's work is taken over, idempotent work never runs twice to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from genosd.cluster.redis_queue import RedisQueue
from genosd.cluster.workqueue import Handler, LocalQueue, Work
from genosd.settings_cluster import ClusterSettings


def _die(queue: RedisQueue) -> None:
    """The node dies: its loops and items are cut, nothing acknowledged, nothing touched again."""
    queue._stopping = True  # redis-py may swallow a cancellation; a dead node does nothing
    for task in [*queue._loops, *queue._tasks]:
        task.cancel()


@pytest.fixture
async def nodes(redis_server) -> AsyncIterator[dict[str, RedisQueue]]:
    made: dict[str, RedisQueue] = {}

    def node(name: str, groups: list[str] | None = None, attempts: int = 3) -> RedisQueue:
        settings = ClusterSettings(
            backend="redis",
            redis_url=redis_server.url,
            node=name,
            poller_groups=groups or ["default"],
            work_lease=1.0,
            work_attempts=attempts,
        )
        made[name] = RedisQueue(settings)
        return made[name]

    yield node  # type: ignore[misc]
    for queue in made.values():
        await queue.stop()


async def test_work_runs_on_a_node_of_its_group_and_its_result_comes_back(nodes):
    asker, dc1, dc2 = nodes("asker", ["spare"]), nodes("dc1", ["default"]), nodes("dc2", ["dc2"])
    ran: list[tuple[str, str]] = []

    def handler(node: str) -> Handler:
        async def run(work: Work) -> dict:
            ran.append((node, work.payload["device"]))
            if work.payload["device"] == "broken":
                raise RuntimeError("SSH refused")
            return {"config": f"hostname {work.payload['device']}"}

        return run

    for queue in (asker, dc1, dc2):
        queue.serve("backup", handler(queue.node))
        await queue.start()
    first = await asker.submit("backup", {"device": "r1"})
    second = await asker.submit("backup", {"device": "r2"}, group="dc2")
    broken = await asker.submit("backup", {"device": "broken"})
    one, two, bad = [await asker.result(w, 10) for w in (first, second, broken)]
    assert one.ok and one.node == "dc1" and one.data == {"config": "hostname r1"}
    assert two.ok and two.node == "dc2"
    # a handler's failure is the item's result: not retried
    assert not bad.ok and bad.error == "RuntimeError: SSH refused" and bad.attempts == 1
    assert sorted(ran) == [("dc1", "broken"), ("dc1", "r1"), ("dc2", "r2")]


async def test_a_dead_nodes_work_is_taken_over_and_runs_once_more(nodes):
    asker, doomed, survivor = nodes("asker", ["spare"]), nodes("doomed"), nodes("survivor")
    started: list[str] = []
    hang = asyncio.Event()

    async def stuck(work: Work) -> dict:
        started.append("doomed")
        await hang.wait()  # never set: the node dies with the work in its hands
        return {}

    async def fine(work: Work) -> dict:
        started.append("survivor")
        return {"done_by": "survivor", "attempt": work.attempt}

    doomed.serve("facts", stuck)
    await asker.start()
    await doomed.start()
    work_id = await asker.submit("facts", {"device": "r1"})
    for _ in range(100):
        if started:
            break
        await asyncio.sleep(0.05)
    assert started == ["doomed"]
    # the node dies: its loops and the item are cut, nothing acknowledged
    _die(doomed)
    survivor.serve("facts", fine)
    await survivor.start()
    result = await asker.result(work_id, 10)
    assert result.ok and result.node == "survivor" and result.attempts == 2
    assert result.data == {"done_by": "survivor", "attempt": 2}
    assert started == ["doomed", "survivor"] and survivor.reclaimed == 1


async def test_idempotent_work_cut_off_mid_way_is_not_repeated(nodes):
    asker, doomed, survivor = nodes("asker", ["spare"]), nodes("doomed"), nodes("survivor")
    pushed: list[str] = []

    async def deploy_forever(work: Work) -> dict:
        pushed.append("doomed")
        await asyncio.Event().wait()
        return {}

    async def deploy(work: Work) -> dict:
        pushed.append("survivor")
        return {"deployed": True}

    doomed.serve("deploy", deploy_forever)
    await asker.start()
    await doomed.start()
    cut = await asker.submit("deploy", {"change": 7}, key="deploy:r1:change-7")
    while not pushed:
        await asyncio.sleep(0.05)
    _die(doomed)
    survivor.serve("deploy", deploy)
    await survivor.start()
    result = await asker.result(cut, 10)
    assert not result.ok and "cut off mid-way" in (result.error or "") and "doomed" in result.error
    assert pushed == ["doomed"]  # never pushed again

    # a finished one returns its stored result to a repeated submission, without running
    once = await asker.submit("deploy", {"change": 8}, key="deploy:r1:change-8")
    assert (await asker.result(once, 10)).data == {"deployed": True}
    again = await asker.submit("deploy", {"change": 8}, key="deploy:r1:change-8")
    assert (await asker.result(again, 10)).data == {"deployed": True}
    assert pushed == ["doomed", "survivor"]


async def test_work_whose_nodes_keep_dying_is_given_up(nodes):
    asker = nodes("asker", ["spare"])
    await asker.start()
    work_id = await asker.submit("facts", {"device": "r9"})
    for attempt in range(2):
        victim = nodes(f"victim{attempt}", attempts=2)
        running = asyncio.Event()

        async def hang(work: Work, running: asyncio.Event = running) -> dict:
            running.set()
            await asyncio.Event().wait()
            return {}

        victim.serve("facts", hang)
        await victim.start()
        await asyncio.wait_for(running.wait(), 10)
        _die(victim)
    last = nodes("last", attempts=2)
    last.serve("facts", lambda work: asyncio.sleep(0, {"never": True}))
    await last.start()
    result = await asker.result(work_id, 10)
    assert not result.ok and result.error == "gave up after 2 attempts: the nodes running it died"


async def test_the_local_queue_runs_work_in_process():
    queue = LocalQueue("solo")

    async def handler(work: Work) -> dict:
        return {"device": work.payload["device"]}

    queue.serve("facts", handler)
    work_id = await queue.submit("facts", {"device": "r1"})
    result = await queue.result(work_id, 5)
    assert result.ok and result.node == "solo" and result.data == {"device": "r1"}
    missing = await queue.result(await queue.submit("nothing", {}), 5)
    assert not missing.ok and "no handler" in (missing.error or "")
    await queue.stop()
