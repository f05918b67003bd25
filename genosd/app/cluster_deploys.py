"""Deploys in a cluster: pushed by a node of the device's poller group, recorded by the node
where the change was approved.

The asking node holds the device's lock and cluster lease for the whole deploy and sends the
approved change (and a restore's stored, masked version) as one work item with an idempotency
key: a node that dies mid-push is never followed by a second push of the same change; the deploy
is reported as cut off (devices with commit-confirm have reverted by themselves) and a person
plans again. The pushing node renders the intended config from its own files and pushes only if
the diff's hash is the approved one, so the approval stays bound to what reaches the device.
Both nodes must mask with the same key (restores unmask the stored version with it).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from pydantic import ValidationError

from genosd.app.core import AppCore
from genosd.app.fanout import part_failure, run_one
from genosd.cluster import Work
from genosd.config.backup import BackupResult, ReadConfig
from genosd.config.changes import Change
from genosd.config.deploy import DeployOutcome
from genosd.config.secrets import key_id
from genosd.errors import DeviceError, InvalidRequestError

KIND = "config.deploy"
WAIT = 1800.0  # seconds a deploy may take on another node (commit-confirm timers included)


async def deploy_on_node(
    core: AppCore, change: Change, actor: str
) -> tuple[DeployOutcome, BackupResult | None]:
    """Have a node of the device's poller group push `change`; its outcome and the backup kept
    here of what it left. DeviceError when no node pushed it to its end."""
    device = core.inventory.device(change.device)
    lifecycle = core.lifecycle
    stored = None
    if change.kind == "restore" and change.source is not None:
        source = change.source
        stored = await asyncio.to_thread(lambda: core.history.show(device.name, source))
    payload = {
        "change": change.model_dump(mode="json"),
        "stored": stored,
        "mask_key": key_id(lifecycle.mask_key),
    }
    key = f"deploy:{core.coordinator.node}:{change.id}:{change.sha256}"
    result = await run_one(core, KIND, payload, group=device.poller_group, key=key, wait=WAIT)
    failure = part_failure(result)
    if failure is not None:
        raise DeviceError(failure)
    try:
        outcome = DeployOutcome(**result.data["outcome"])
        read = _read_of(result.data.get("read"))
    except (KeyError, TypeError) as exc:
        raise DeviceError(f"{result.node} sent an unreadable deploy outcome: {exc}") from exc
    saved = await asyncio.to_thread(lifecycle.keep, read, actor)
    return outcome, saved


def _read_of(data: dict[str, Any] | None) -> ReadConfig | BackupResult | None:
    if data is None:
        return None
    entry = dict(data)
    return ReadConfig(**entry) if entry.pop("ok") else BackupResult(**entry)


async def push_part(core: AppCore, work: Work) -> dict[str, Any]:
    """Push a change another node approved; the outcome and the config read after it."""
    lifecycle = core.lifecycle
    try:
        change = Change.model_validate(work.payload["change"])
        stored = work.payload.get("stored")
        if stored is not None and not isinstance(stored, str):
            raise TypeError("stored is not text")
    except (KeyError, TypeError, ValidationError) as exc:
        raise InvalidRequestError(f"an unreadable deploy from {work.origin}: {exc}") from exc
    if work.payload.get("mask_key") != key_id(lifecycle.mask_key):
        raise InvalidRequestError(
            f"{core.coordinator.node} masks secrets with another key than {work.origin}: give "
            "every node the same <state_dir>/mask.key (nothing was pushed)"
        )
    outcome, read = await asyncio.to_thread(lifecycle.push, change, stored)
    sent = None if read is None else {"ok": isinstance(read, ReadConfig), **asdict(read)}
    return {"outcome": asdict(outcome), "read": sent}
