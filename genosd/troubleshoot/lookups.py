"""Read-only lookups run from a device: ping, traceroute, ARP, MAC, route, interface counters,
BGP and OSPF neighbours. The argument is validated for its kind before it goes into the
platform's command (genosd/platforms.yaml `lookups`), so nothing but an address, prefix, MAC,
host name or interface name ever reaches the device's command line."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from genosd.errors import InvalidRequestError
from genosd.platforms import Platform
from genosd.readonly import read_only_problem

KINDS = ("ping", "traceroute", "arp", "mac", "route", "counters", "bgp", "ospf")
_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9][A-Za-z0-9-]{0,62}(?:\.[A-Za-z0-9-]{1,63})*")
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z-]{0,40} ?[0-9][0-9/.:]{0,20}")
_MAC = re.compile(r"[0-9a-fA-F]{2}([:.-]?[0-9a-fA-F]{2}){5}")
_SUCCESS = re.compile(r"Success rate is (\d+) percent \((\d+)/(\d+)\)")
_LOSS = re.compile(
    r"(\d+) packets transmitted, (\d+) (?:packets )?received.*?([\d.]+)% packet loss"
)
_RTT = re.compile(r"(?:round-trip|rtt)[^=]*=\s*([\d.]+)/([\d.]+)/([\d.]+)")


def _mac(text: str, platform: str) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    if platform == "junos":
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return ".".join(digits[i : i + 4] for i in range(0, 12, 4))


def argument(kind: str, target: str | None, platform: str) -> str | None:
    """The validated argument of a lookup (InvalidRequestError naming what is wrong)."""
    if kind in ("bgp", "ospf"):
        return None
    if not target:
        raise InvalidRequestError(f"a {kind} lookup needs a target")
    target = target.strip()
    if kind in ("ping", "traceroute", "arp"):
        try:
            return str(ipaddress.ip_address(target))
        except ValueError:
            if kind != "arp" and _HOST.fullmatch(target):
                return target
        raise InvalidRequestError(f"{kind}: {target!r} is not an IP address or host name")
    if kind == "route":
        try:
            return (
                str(ipaddress.ip_network(target, strict=False))
                if "/" in target
                else str(ipaddress.ip_address(target))
            )
        except ValueError:
            raise InvalidRequestError(f"route: {target!r} is not an address or prefix") from None
    if kind == "mac":
        if not _MAC.fullmatch(target):
            raise InvalidRequestError(f"mac: {target!r} is not a MAC address")
        return _mac(target, platform)
    if kind == "counters":
        if not _INTERFACE.fullmatch(target):
            raise InvalidRequestError(f"counters: {target!r} is not an interface name")
        return target.replace(" ", "")
    raise InvalidRequestError(f"unknown lookup {kind!r}; known: {', '.join(KINDS)}")


def command(platform: Platform, kind: str, target: str | None) -> str:
    """The platform's command for the lookup, read-only checked."""
    template = platform.lookups.get(kind)
    if template is None:
        raise InvalidRequestError(f"platform {platform.name} has no {kind} lookup")
    text = template.replace("{target}", argument(kind, target, platform.name) or "").strip()
    problem = read_only_problem(text, platform.read_verbs)
    if problem is not None:  # defence in depth: the templates are checked at load already
        raise InvalidRequestError(f"refused: {problem}")
    return text


def ping_summary(output: str) -> dict[str, Any]:
    """Sent, received, loss and round trip from the ping outputs of IOS, NX-OS, EOS and Junos."""
    found: dict[str, Any] = {}
    match = _SUCCESS.search(output)
    if match:
        found = {
            "sent": int(match[3]),
            "received": int(match[2]),
            "loss_percent": 100.0 - float(match[1]),
        }
    elif match := _LOSS.search(output):
        found = {"sent": int(match[1]), "received": int(match[2]), "loss_percent": float(match[3])}
    if rtt := _RTT.search(output):
        found["rtt_ms"] = {"min": float(rtt[1]), "avg": float(rtt[2]), "max": float(rtt[3])}
    return found


def traceroute_hops(output: str) -> list[dict[str, Any]]:
    """Each hop's number and the addresses that answered (an empty list: no answer)."""
    hops = []
    for line in output.splitlines():
        match = re.match(r"^\s*(\d+)\s+(.*)$", line)
        if not match:
            continue
        addresses = re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", match[2])
        hops.append({"hop": int(match[1]), "addresses": list(dict.fromkeys(addresses))})
    return hops
