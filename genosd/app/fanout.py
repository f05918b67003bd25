"""Device work sent in parts to the cluster's nodes through the work queue, results gathered.

Devices go to the work stream of their poller group in about two parts per live node serving it
(a dead node's part is small to redo, a fast node takes more parts); any node of the group runs a
part and answers. A part no node can take (nobody serves its group) or that nobody answered in
time comes back as a failed result naming why, so callers turn every part into per-device data.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from genosd.app.command_history import recorded
from genosd.app.core import AppCore
from genosd.cluster import Work, WorkResult
from genosd.errors import InvalidRequestError
from genosd.inventory import Device

WAIT = 3600.0  # seconds a part may take, queueing and other nodes' retries included


def parts(devices: list[Device], nodes: int) -> list[list[Device]]:
    """`devices` in about two parts per serving node."""
    count = max(1, min(len(devices), 2 * nodes))
    size = math.ceil(len(devices) / count)
    return [devices[at : at + size] for at in range(0, len(devices), size)]


async def fan_out(
    core: AppCore,
    kind: str,
    devices: list[Device],
    payload_of: Callable[[list[Device]], dict[str, Any]],
    *,
    wait: float = WAIT,
) -> list[tuple[list[str], WorkResult]]:
    """Send `devices` in parts as `kind` work; each part's device names and result."""
    by_group: dict[str, list[Device]] = {}
    for device in devices:
        by_group.setdefault(device.poller_group, []).append(device)
    answered: list[tuple[list[str], WorkResult]] = []
    submitted: list[tuple[list[str], str]] = []
    for group, grouped in by_group.items():
        serving = _serving(core, group)
        if serving == 0:
            answered.append(([d.name for d in grouped], _unserved(group)))
            continue
        for part in parts(grouped, serving):
            work_id = await core.work.submit(kind, payload_of(part), group=group)
            submitted.append(([d.name for d in part], work_id))

    async def one(names: list[str], work_id: str) -> tuple[list[str], WorkResult]:
        return names, await _answer(core, work_id, wait)

    answered += await asyncio.gather(*(one(n, w) for n, w in submitted))
    return answered


async def run_one(
    core: AppCore, kind: str, payload: dict[str, Any], *, group: str, key: str, wait: float = WAIT
) -> WorkResult:
    """One item of `kind` for a node of `group`, at most once to its end (idempotency `key`)."""
    if _serving(core, group) == 0:
        return _unserved(group)
    return await _answer(core, await core.work.submit(kind, payload, group=group, key=key), wait)


def _serving(core: AppCore, group: str) -> int:
    return sum(1 for m in core.coordinator.members() if group in m.groups)


def _unserved(group: str) -> WorkResult:
    return WorkResult("", False, error=f"no live node serves poller group {group!r}")


async def _answer(core: AppCore, work_id: str, wait: float) -> WorkResult:
    try:
        return await core.work.result(work_id, wait)
    except TimeoutError:
        return WorkResult(work_id, False, error=f"no node answered within {wait:g} s")


def serve_parts(
    core: AppCore, kind: str, reason: str, run: Callable[[AppCore, Work], Awaitable[dict[str, Any]]]
) -> None:
    """Run `kind` parts other nodes send with `run`, two SSH parts at a time, their commands
    noted in this node's command history as the asking node's, for `reason`."""

    async def handler(work: Work) -> dict[str, Any]:
        async with core.part_slots:
            with recorded(core, f"node {work.origin}", reason):
                return await run(core, work)

    core.work.serve(kind, handler)


def device_names(part: list[Device]) -> dict[str, Any]:
    """The payload of a part that needs nothing but its devices."""
    return {"devices": [d.name for d in part]}


def ssh_devices_here(core: AppCore, work: Work) -> tuple[list[Device], dict[str, str]]:
    """The SSH devices a part names that this node's inventory has, and why each other one is
    not run here (InvalidRequestError for a part that names no device list)."""
    names = work.payload.get("devices")
    if not isinstance(names, list):
        raise InvalidRequestError(f"an unreadable {work.kind} part from {work.origin}")
    found, missing = [], {}
    for name in map(str, names):
        device = core.inventory.devices.get(name)
        if device is None or device.ssh is None:
            missing[name] = f"{name} is not an SSH device in {core.coordinator.node}'s inventory"
        else:
            found.append(device)
    return found, missing


def part_failure(outcome: WorkResult) -> str | None:
    """Why a whole part failed (None when it ran): the error, with the node that saw it."""
    if outcome.ok:
        return None
    return f"on {outcome.node}: {outcome.error}" if outcome.node else str(outcome.error)
