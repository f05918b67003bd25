"""What a run's sightings mean for the inventory: new devices, moved addresses, devices gone.

A sighting is the inventory's device when its address is the device's hostname, or when its
sysName is the device's name (domain and case aside). A device so named at another address is a
changed address (only for devices whose hostname is an address: a DNS name is left alone). An
inventory device inside the ranges that neither discovery nor polling has seen for `stale_days`
is proposed as gone. Nothing here changes the inventory: an operator accepts proposals.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from genosd.discovery.crawl import CrawlResult, Lead, Scope
from genosd.discovery.probe import Sighting

Kind = Literal["add", "address", "stale"]
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class KnownDevice:
    """What discovery needs of an inventory device."""

    name: str
    hostname: str
    platform: str | None
    last_success: float | None  # newest answered poll or SSH session, Unix seconds


@dataclass
class Proposal:
    """One change an operator may accept into the inventory."""

    id: int
    kind: Kind
    device: str
    reason: str
    address: str | None = None
    old_address: str | None = None
    platform: str | None = None
    os: str | None = None
    credential: str | None = None
    sys_descr: str | None = None
    status: Literal["open", "accepted", "dismissed"] = "open"
    decided_by: str | None = None
    decided_at: float | None = None


@dataclass
class Review:
    """The proposals of a run, and which inventory devices it saw where."""

    proposals: list[Proposal] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # inventory device -> address seen at
    seen: dict[str, float] = field(default_factory=dict)  # inventory device -> when
    first_looked: dict[str, float] = field(default_factory=dict)  # first missed, never seen


def short(name: str) -> str:
    """A name without domain, lower case: how names are compared."""
    return name.strip().lower().split(".")[0]


def is_address(text: str) -> bool:
    """Whether `text` is an IP address literal."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def new_name(sighting: Sighting, taken: set[str]) -> str:
    """An inventory name for a new device: its sysName, else one made of its address."""
    fallback = "host-" + re.sub(r"[.:]", "-", sighting.address)
    base = _NAME_CHARS.sub("-", sighting.sys_name or "").strip("-.")[:63] or fallback
    name = base if short(base) not in taken else f"{base}-{fallback[5:]}"
    taken.add(short(name))
    return name


def _describe(lead: Lead, sighting: Sighting) -> str:
    what = sighting.os or "unknown OS"
    how = f"SNMP ({sighting.credential})" if sighting.credential else "SSH banner only"
    return (
        f"answered {how} as {sighting.sys_name or sighting.address}, {what}; found via {lead.via}"
    )


def review(
    result: CrawlResult,
    devices: list[KnownDevice],
    scope: Scope,
    last_seen: dict[str, float],
    now: float,
    stale_days: float,
) -> Review:
    """Compare a run with the inventory; `last_seen` is when discovery last saw each device
    (or first looked for it)."""
    out = Review()
    by_address = {d.hostname: d for d in devices}
    by_name = {short(d.name): d for d in devices}
    taken = set(by_name)
    handled: set[str] = set()
    for lead, sighting in result.sightings:
        device = by_address.get(sighting.address)
        if device is None and sighting.sys_name:
            device = by_name.get(short(sighting.sys_name))
        if device is not None:
            if device.name in handled:
                continue  # the same device answering at a second address
            handled.add(device.name)
            out.seen[device.name] = now
            out.known[device.name] = sighting.address
            if device.hostname != sighting.address and is_address(device.hostname):
                out.proposals.append(
                    Proposal(
                        len(out.proposals) + 1,
                        "address",
                        device.name,
                        f"{device.name} now answers at {sighting.address}, not "
                        f"{device.hostname}: {_describe(lead, sighting)}",
                        address=sighting.address,
                        old_address=device.hostname,
                        platform=sighting.platform,
                        os=sighting.os,
                        credential=sighting.credential,
                        sys_descr=_first_line(sighting.sys_descr),
                    )
                )
            continue
        key = short(sighting.sys_name) if sighting.sys_name else sighting.address
        if key in handled:
            continue
        handled.add(key)
        out.proposals.append(
            Proposal(
                len(out.proposals) + 1,
                "add",
                new_name(sighting, taken),
                _describe(lead, sighting),
                address=sighting.address,
                platform=sighting.platform,
                os=sighting.os,
                credential=sighting.credential,
                sys_descr=_first_line(sighting.sys_descr),
            )
        )
    limit = stale_days * 86400
    for device in devices:
        if device.name in out.seen or not scope.allows(device.hostname):
            continue
        polled = device.last_success or 0.0
        looked = last_seen.get(device.name)
        if looked is None:  # the clock starts at the first run that looked for it
            out.first_looked[device.name] = looked = now
        newest = max(polled, looked)
        if now - newest >= limit:
            days = (now - newest) / 86400
            out.proposals.append(
                Proposal(
                    len(out.proposals) + 1,
                    "stale",
                    device.name,
                    f"{device.name} ({device.hostname}) has not answered discovery or polling "
                    f"for {days:.1f} days",
                    old_address=device.hostname,
                    platform=device.platform,
                )
            )
    return out


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0][:200] if text and text.strip() else None


def proposal_from(data: dict[str, Any]) -> Proposal:
    """A stored proposal back as a Proposal."""
    return Proposal(**data)
