"""Troubleshooting as the API, the CLI, the assistant and playbooks use it: a device's checks
explained (from its stored facts, its newest rates and its poll history), the path between two
devices, and read-only lookups run from a device (recorded in the command history)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from genosd.app.command_history import recorded
from genosd.app.core import AppCore
from genosd.app.topology import long_name, topology
from genosd.collectors.commands import run_commands
from genosd.collectors.facts import stored_facts
from genosd.errors import NotManagedError
from genosd.inventory import Device
from genosd.metrics.window import series_name
from genosd.platforms import platform
from genosd.troubleshoot import flaps, interfaces, links, lookups, routing
from genosd.troubleshoot.findings import Finding, worst_first
from genosd.troubleshoot.path import Utilisation, find_path

FLAP_THRESHOLD = 3  # status changes in the window that make an interface flapping


def _interface_rates(series: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Newest interface fields by long interface name."""
    found = {}
    for s in series:
        if s["measurement"] == "interface":
            name = series_name(s["tags"])
            if name:
                found[long_name(name)] = s["fields"]
    return found


async def diagnose(
    core: AppCore,
    name: str,
    *,
    minutes: float = 60,
    routing_state: bool = False,
    actor: str = "genosd",
) -> dict[str, Any]:
    """Every check of one device, explained: interface errors and discards, duplex and speed
    against its LLDP/CDP neighbours, flaps over the last `minutes`, neighbours lost, and (when
    asked, over SSH) BGP and OSPF neighbours. What a check could not see is a note."""
    device = core.inventory.device(name)
    notes: list[str] = []
    stored = await core.db.run(stored_facts, device.name)
    rows: dict[str, dict[str, Any]] = {}
    if stored is None:
        notes.append("no SSH facts stored yet: counters, duplex and neighbours unchecked")
    else:
        rows = {long_name(str(r.get("interface"))): r for r in stored.facts.get("interfaces", [])}
    reader = core.metric_reader
    rates: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    if reader is None or device.snmp is None:
        notes.append("no SNMP poll history here: rates and flaps unchecked")
    else:
        rates = _interface_rates(await reader.latest(device.name))
        since = time.time_ns() - int(minutes * 60e9)
        points = await reader.points_since(device.name, "interface", since)
        findings += flaps.flaps(device.name, points, minutes, FLAP_THRESHOLD)
    for interface in sorted(set(rows) | set(rates)):
        findings += interfaces.diagnose(
            device.name, interface, rows.get(interface), rates.get(interface)
        )
    graph = await topology(core)
    with_facts = set(core.inventory.devices) - set(graph["devices_without_facts"])
    facts_rows = await _rows_of_neighbours(core, graph, device.name)
    facts_rows[device.name] = rows
    for link in graph["links"]:
        if device.name not in (link["a"], link["b"]):
            continue
        a_row = facts_rows.get(link["a"], {}).get(link["a_interface"])
        b_row = facts_rows.get(link["b"], {}).get(link["b_interface"])
        findings += links.mismatches(link, a_row, b_row)
        findings += links.neighbor_loss(link, with_facts)
    if routing_state:
        found, more = await _routing(core, device, actor)
        findings += found
        notes += more
    return {
        "device": device.name,
        "checked_at": time.time(),
        "minutes": minutes,
        "findings": [asdict(f) for f in worst_first(findings)],
        "notes": notes,
    }


async def _rows_of_neighbours(
    core: AppCore, graph: dict[str, Any], name: str
) -> dict[str, dict[str, dict[str, Any]]]:
    neighbours = {
        x["b"] if x["a"] == name else x["a"] for x in graph["links"] if name in (x["a"], x["b"])
    }
    neighbours &= set(core.inventory.devices)

    def read(db: Any) -> dict[str, dict[str, dict[str, Any]]]:
        out = {}
        for other in neighbours:
            found = stored_facts(db, other)
            if found is not None:
                out[other] = {
                    long_name(str(r.get("interface"))): r for r in found.facts.get("interfaces", [])
                }
        return out

    return await core.db.run(read)


async def _routing(core: AppCore, device: Device, actor: str) -> tuple[list[Finding], list[str]]:
    """BGP and OSPF neighbour findings from the device (over SSH), and what could not be read."""
    if device.ssh is None:
        return [], ["no SSH settings: BGP and OSPF unchecked"]
    known = platform(device.platform)
    wanted = {k: known.lookups[k] for k in ("bgp", "ospf") if k in known.lookups}
    if not wanted:
        return [], [f"platform {device.platform} reports no BGP/OSPF lookups"]
    results, error = await _run(core, device, list(wanted.values()), actor)
    if error is not None:
        return [], [f"BGP/OSPF unchecked: {error}"]
    findings, notes = [], []
    for kind, command in wanted.items():
        got = results.get(command, {})
        parsed = got.get("parsed")
        if not isinstance(parsed, list):
            notes.append(f"{kind}: `{command}` gave nothing genosd could parse")
            continue
        findings += (routing.bgp if kind == "bgp" else routing.ospf)(device.name, parsed)
    return findings, notes


async def _run(
    core: AppCore, device: Device, commands: list[str], actor: str
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The outputs of read-only commands on one device, and the error when it failed (a
    device's failure is data: the caller reports it, nothing raises)."""
    assert device.ssh is not None
    ssh = core.settings.ssh
    with recorded(core, actor, "troubleshoot"):
        [outcome] = await asyncio.to_thread(
            run_commands,
            [device.ssh],
            commands,
            core.known_hosts,
            policy=ssh.host_key_policy,
            concurrency=1,
        )
    return outcome.outputs, None if outcome.ok else f"{device.name}: {outcome.error}"


async def lookup(
    core: AppCore, name: str, kind: str, target: str | None, actor: str = "genosd"
) -> dict[str, Any]:
    """Run one read-only lookup from a device: its output, TextFSM rows when a template
    exists, and for ping and traceroute a summary. Kept in the command history."""
    device = core.inventory.device(name)
    if device.ssh is None:
        raise NotManagedError(device.name, "SSH", "data.ssh.credential")
    command = lookups.command(platform(device.platform), kind, target)
    outputs, error = await _run(core, device, [command], actor)
    got = outputs.get(command, {})
    output = str(got.get("output") or "")
    result: dict[str, Any] = {
        "device": device.name,
        "kind": kind,
        "command": command,
        "ok": error is None,
        "error": error,
        "output": output,
        "parsed": got.get("parsed"),
    }
    if kind == "ping":
        result["summary"] = lookups.ping_summary(output)
    elif kind == "traceroute":
        result["summary"] = {"hops": lookups.traceroute_hops(output)}
    return result


async def path(core: AppCore, source: str, target: str) -> dict[str, Any]:
    """The hops between two inventory devices over the LLDP/CDP graph, with each link's state
    and its interfaces' newest utilisation."""
    for name in (source, target):
        core.inventory.device(name)
    graph = await topology(core)
    first = find_path(graph, source, target, {})
    rates: Utilisation = {}
    reader = core.metric_reader
    if first["found"] and reader is not None:
        on_path = {h["from"] for h in first["hops"]} | {h["to"] for h in first["hops"]}
        for name in on_path & set(core.inventory.devices):
            for interface, fields in _interface_rates(await reader.latest(name)).items():
                rates[(name, interface)] = {
                    k: float(v) for k, v in fields.items() if isinstance(v, int | float)
                }
    return find_path(graph, source, target, rates)
