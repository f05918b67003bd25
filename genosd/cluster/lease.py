"""Holding a named lease for the length of a block, renewed while held."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from genosd.cluster.coordinator import Coordinator, Lease
from genosd.errors import ConflictError

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held_lease(
    coordinator: Coordinator, name: str, ttl: float = 60.0
) -> AsyncIterator[Lease]:
    """Hold lease `name` for the block (renewed every ttl/3); ConflictError naming the holder
    when another node or process has it."""
    lease = await coordinator.acquire(name, ttl)
    if lease is None:
        holder = await coordinator.holder(name)
        raise ConflictError(
            f"{name} is held by {holder or 'another node'} (a cluster lease); try again later"
        )

    async def keep() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            if not await coordinator.renew(lease):
                log.warning("lease %s was lost while held", name)
                return

    keeper = asyncio.create_task(keep(), name=f"lease:{name}")
    try:
        yield lease
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        await coordinator.release(lease)
