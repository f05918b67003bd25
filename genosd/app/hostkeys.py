"""Pinning SSH host keys (`genosd inventory trust`): record new keys, re-pin changed ones on request.

Re-pinning a changed key is what a man-in-the-middle would want, so every pin is audited with the
old and new key's fingerprints, and a replacement also raises an alert.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from typing import Literal

from genosd.app.core import AppCore
from genosd.errors import DeviceError
from genosd.inventory import Device
from genosd.ssh.hostkeys import fetch_host_key

TrustStatus = Literal["pinned", "replaced", "already_pinned", "changed", "failed"]


@dataclass(frozen=True)
class TrustResult:
    """What happened to one device's key."""

    device: str
    status: TrustStatus
    key_type: str | None = None
    fingerprint: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the device now has its presented key pinned."""
        return self.status in ("pinned", "replaced", "already_pinned")


def fingerprint(key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a `type base64` key."""
    digest = hashlib.sha256(base64.b64decode(key.split()[-1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


async def trust(
    core: AppCore, devices: list[Device], *, replace: bool, actor: str
) -> list[TrustResult]:
    """Pin the presented key of each SSH device; `replace` re-pins keys that changed."""
    results = []
    for device in devices:
        if device.ssh is None:
            continue
        results.append(await _trust_one(core, device, replace=replace, actor=actor))
    return results


async def _trust_one(core: AppCore, device: Device, *, replace: bool, actor: str) -> TrustResult:
    target = device.ssh
    assert target is not None  # trust() selects SSH devices
    try:
        key = await asyncio.to_thread(fetch_host_key, target.address, target.port, target.timeout)
    except DeviceError as exc:
        return TrustResult(device.name, "failed", error=str(exc))
    known = core.known_hosts
    pinned = known.pinned(target.address, target.port)
    new = fingerprint(key)
    result = TrustResult(device.name, "already_pinned", key.split()[0], new)
    if pinned == key:
        return result
    if pinned is not None and not replace:
        return TrustResult(device.name, "changed", key.split()[0], new, "key CHANGED; not replaced")
    await asyncio.to_thread(known.record, target.address, target.port, key, replace=True)
    status: TrustStatus = "replaced" if pinned else "pinned"
    await core.audit(
        actor=actor,
        action="replace_ssh_host_key" if pinned else "pin_ssh_host_key",
        target=f"device:{device.name}",
        details={
            "address": f"{target.address}:{target.port}",
            "old": fingerprint(pinned) if pinned else None,
            "new": new,
        },
    )
    if pinned:
        core.events.publish(
            "alert",
            {
                "source": "genosd",
                "severity": "warning",
                "kind": "ssh_host_key_replaced",
                "device": device.name,
                "message": f"{actor} re-pinned the SSH host key ({fingerprint(pinned)} -> {new})",
            },
        )
    return TrustResult(device.name, status, key.split()[0], new)
