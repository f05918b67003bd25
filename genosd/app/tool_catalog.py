"""genosd's own read-only tools, and the registry that joins them to the plugins' tools."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genosd.app.changes import plan, plan_restore
from genosd.app.compliance import fleet_report
from genosd.app.core import AppCore
from genosd.app.facts import stored
from genosd.app.playbooks import list_runs
from genosd.app.tools import Caller, ToolRegistry, ToolSpec
from genosd.app.troubleshoot_tools import troubleshoot_tools
from genosd.auth.keys import Role
from genosd.collectors.commands import run_commands
from genosd.errors import DeviceError, InvalidRequestError, NotFoundError
from genosd.metrics.model import Point
from genosd.metrics.window import summarise
from genosd.platforms import read_verbs
from genosd.pluginhost.manager import PluginHost
from genosd.readonly import read_only_problem

DEVICE = Field(min_length=1, max_length=200, description="an inventory device name")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    """No arguments."""


class DeviceArgs(_Args):
    """One device."""

    device: str = DEVICE


class OptionalDevice(_Args):
    """One device, or all of them."""

    device: str | None = Field(None, max_length=200, description="a device name; all if left out")


class VersionsArgs(_Args):
    """A device's config versions."""

    device: str = DEVICE
    limit: int = Field(10, ge=1, le=100)


class DiffArgs(_Args):
    """Two versions of a device's config (the newest when `new` is left out)."""

    device: str = DEVICE
    old: str = Field(min_length=7, max_length=40, description="a version id (7+ hex digits)")
    new: str | None = Field(None, min_length=7, max_length=40)


class MetricsArgs(_Args):
    """A device's newest metric values (one measurement, or all)."""

    device: str = DEVICE
    measurement: str | None = Field(
        None, max_length=64, description="interface, snmp, snmp_cpu, snmp_mem, genosd_poll"
    )


class WindowArgs(_Args):
    """A device's metrics over the last minutes."""

    device: str = DEVICE
    minutes: float = Field(60, gt=0, le=7 * 24 * 60, description="how far back")
    measurement: str = Field(
        "interface", max_length=64, description="interface, snmp, snmp_cpu, snmp_mem, genosd_poll"
    )
    interface: str | None = Field(
        None, max_length=200, description="only series whose name matches this glob (Gi0/*)"
    )
    fields: list[str] | None = Field(
        None, max_length=30, description="these fields (default: rates, utilisation, status)"
    )


class ShowArgs(_Args):
    """One read-only command on one device."""

    device: str = DEVICE
    command: str = Field(
        min_length=1,
        max_length=300,
        description="show/display/ping/traceroute/dir, output filters only (| include …)",
    )


class PlanArgs(_Args):
    """A dry run of bringing a device to its intended config (all features, or these)."""

    device: str = DEVICE
    features: list[str] | None = Field(
        None, max_length=20, description="only these features of the intended config (ntp, snmp…)"
    )


class RestoreArgs(_Args):
    """Bring a stored config version back (as a change request)."""

    device: str = DEVICE
    version: str = Field(min_length=7, max_length=40, description="a version id (7+ hex digits)")


class PlaybookArgs(_Args):
    """Start a playbook run."""

    playbook: str = Field(min_length=1, max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict, max_length=50)
    check: bool = Field(
        True, description="check mode: plans and validations only, no deploy (the default)"
    )


class RunsArgs(_Args):
    """A playbook's newest runs."""

    playbook: str = Field(min_length=1, max_length=200)
    limit: int = Field(10, ge=1, le=50)


def _device(core: AppCore, name: str) -> Any:
    if name not in core.inventory.devices:
        raise NotFoundError(f"no device {name!r} in the inventory")
    return core.inventory.devices[name]


def _planned(done: Any) -> dict[str, Any]:
    """A plan as the assistant sees it: the diff, the findings and the change to approve."""
    report = done.report
    out: dict[str, Any] = {
        "device": done.device,
        "in_sync": done.in_sync,
        "error": done.plan.error,
        "findings": [f.model_dump(mode="json") for f in report.findings] if report else [],
        "score": report.score if report else None,
    }
    if done.change is not None:
        out |= {
            "change": done.change.id,
            "status": done.change.status,
            "sha256": done.change.sha256,
            "diff": done.change.diff,
            "next": "a person reviews the diff and approves change "
            f"{done.change.id} with its sha256 (POST /api/v1/approvals/{done.change.id}/approve)"
            "; nothing is pushed until then",
        }
    return out


def core_tools(core: AppCore) -> list[ToolSpec]:
    """genosd's own tools: all read-only."""

    async def device_status(args: Any) -> Any:
        names = [args.device] if args.device else sorted(core.inventory.devices)
        out = []
        for name in names:
            state = core.status.state(_device(core, name))
            health = dataclasses.asdict(state.health) if state.health is not None else None
            out.append(
                {"device": name, "status": state.status, "source": state.source, "health": health}
            )
        return out

    async def device_facts(args: Any) -> Any:
        _device(core, args.device)
        found = await stored(core, args.device)
        return {"device": found.device, "collected_at": found.collected_at, "facts": found.facts}

    async def neighbors(args: Any) -> Any:
        _device(core, args.device)
        found = await stored(core, args.device)
        return {
            "device": found.device,
            "collected_at": found.collected_at,
            "lldp": found.facts.get("lldp", []),
            "cdp": found.facts.get("cdp", []),
        }

    async def config_versions(args: Any) -> Any:
        _device(core, args.device)
        versions = await asyncio.to_thread(core.history.versions, args.device, args.limit)
        return [vars(v) for v in versions]

    async def config_diff(args: Any) -> Any:
        _device(core, args.device)
        return await asyncio.to_thread(core.history.diff, args.device, args.old, args.new)

    async def compliance(args: Any) -> Any:
        report = await fleet_report(core, [args.device] if args.device else None)
        return report.model_dump(mode="json")

    async def show_command(args: Any) -> Any:
        device = _device(core, args.device)
        problem = read_only_problem(args.command, read_verbs(device.platform))
        if problem is not None:
            raise InvalidRequestError(f"refused: {problem}")
        if device.ssh is None:
            raise InvalidRequestError(f"{device.name} has no SSH settings")
        ssh = core.settings.ssh
        [outcome] = await asyncio.to_thread(
            run_commands,
            [device.ssh],
            [args.command],
            core.known_hosts,
            policy=ssh.host_key_policy,
            concurrency=1,
        )
        if not outcome.ok:
            raise DeviceError(f"{device.name}: {outcome.error}")
        found = outcome.outputs.get(args.command, {})
        return {"device": device.name, "command": args.command, **found}

    async def plan_change(args: Any, caller: Caller) -> Any:
        _device(core, args.device)
        done = await plan(
            core, args.device, f"{caller.actor} via {caller.agent or 'tools'}", args.features
        )
        return _planned(done)

    async def restore_version(args: Any, caller: Caller) -> Any:
        _device(core, args.device)
        done = await plan_restore(
            core, args.device, args.version, f"{caller.actor} via {caller.agent or 'tools'}"
        )
        return _planned(done)

    async def playbook_runs(args: Any) -> Any:
        return await core.db.run(lambda db: list_runs(db, args.playbook, args.limit))

    return [
        ToolSpec(
            "device_status",
            "Reachability and health of devices (SNMP and SSH): up/down, last error.",
            OptionalDevice,
            device_status,
        ),
        ToolSpec(
            "device_facts",
            "A device's newest collected facts (version, interfaces, neighbours, routes).",
            DeviceArgs,
            device_facts,
        ),
        ToolSpec(
            "device_neighbors",
            "A device's LLDP and CDP neighbours from its newest facts (local and remote port,"
            " remote device, platform).",
            DeviceArgs,
            neighbors,
        ),
        ToolSpec(
            "config_versions",
            "The stored versions of a device's config, newest first (id, time, author).",
            VersionsArgs,
            config_versions,
        ),
        ToolSpec(
            "config_diff",
            "What changed in a device's config between two versions (unified diff).",
            DiffArgs,
            config_diff,
        ),
        ToolSpec(
            "compliance",
            "Compliance scores and failed rules, for one device or the fleet.",
            OptionalDevice,
            compliance,
        ),
        ToolSpec(
            "show_command",
            "Run one read-only command on a device (show, display, ping, traceroute, dir; output"
            " filters only): its output, parsed into rows where a TextFSM template exists.",
            ShowArgs,
            show_command,
            timeout=90,
        ),
        ToolSpec(
            "plan_change",
            "Dry run: render the device's intended config, validate it and diff it against the"
            " live device; a difference becomes a change request a person must approve. Never"
            " pushes anything.",
            PlanArgs,
            plan_change,
            Role.operator,
            writes=True,
            timeout=180,
            with_caller=True,
        ),
        ToolSpec(
            "plan_restore",
            "Dry run of bringing a stored config version back to a device: the diff becomes a "
            "change request a person must approve. Never pushes anything.",
            RestoreArgs,
            restore_version,
            Role.operator,
            writes=True,
            timeout=180,
            with_caller=True,
        ),
        ToolSpec(
            "playbook_runs",
            "A playbook's newest runs and how they ended.",
            RunsArgs,
            playbook_runs,
        ),
    ]


def run_tool(start: StartPlaybook) -> ToolSpec:
    """`run_playbook`: start a run (check mode unless asked otherwise); any deploy in it waits
    at the playbook's approval gate for a person."""

    async def run(args: Any, caller: Caller) -> Any:
        record = await start(
            args.playbook,
            actor=f"{caller.actor} via {caller.agent or 'tools'}",
            role=caller.role,
            variables=args.variables,
            check=args.check,
        )
        return {
            "run": record.id,
            "playbook": record.playbook,
            "check": record.check,
            "hosts": sum(map(len, record.batches)),
            "status": "running",
            "next": "follow it with playbook_runs; a deploy in it stops at its approval gate "
            "until a person approves (POST /api/v1/runs/{id}/gates/…/approve)",
        }

    return ToolSpec(
        "run_playbook",
        "Start a playbook run (check mode by default: plans and validations, nothing deployed). "
        "Any deploy waits at the playbook's approval gate for a person.",
        PlaybookArgs,
        run,
        Role.operator,
        writes=True,
        timeout=60,
        with_caller=True,
    )


Latest = Callable[[str], Awaitable[list[dict[str, Any]]]]
StartPlaybook = Callable[..., Awaitable[Any]]  # Runtime.start_playbook
Window = Callable[[str, str, int], Awaitable[list[Point]]]  # (device, measurement, since ns)
PROBLEM_RATES = ("in_errors_rate", "out_errors_rate", "in_discards_rate", "out_discards_rate")


def interface_problems(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Interfaces that are enabled but down, or count errors or discards now, worst first."""
    found = []
    for s in series:
        if s["measurement"] != "interface":
            continue
        fields, tags = s["fields"], s["tags"]
        problems = []
        if fields.get("ifAdminStatus") == 1 and fields.get("ifOperStatus") not in (None, 1):
            problems.append("enabled but down")
        for rate in PROBLEM_RATES:
            value = fields.get(rate)
            if isinstance(value, int | float) and value > 0:
                problems.append(f"{rate} {value:g}/s")
        if problems:
            name = tags.get("ifName") or tags.get("ifDescr") or tags.get("ifIndex")
            rates = sum(float(fields.get(r) or 0) for r in PROBLEM_RATES)
            found.append(
                {
                    "interface": name,
                    "alias": tags.get("ifAlias"),
                    "problems": problems,
                    "_rank": rates,
                }
            )
    found.sort(key=lambda item: item.pop("_rank"), reverse=True)
    return found


def metric_tools(core: AppCore, latest: Latest, window: Window | None = None) -> list[ToolSpec]:
    """Tools over the daemon's metrics in the local store: newest values, and a time window."""

    async def device_metrics(args: Any) -> Any:
        _device(core, args.device)
        series = await latest(args.device)
        if args.measurement:
            series = [s for s in series if s["measurement"] == args.measurement]
        return series

    async def problems(args: Any) -> Any:
        _device(core, args.device)
        return interface_problems(await latest(args.device))

    async def over_window(args: Any) -> Any:
        _device(core, args.device)
        assert window is not None
        since = time.time_ns() - int(args.minutes * 60e9)
        points = await window(args.device, args.measurement, since)
        found = summarise(points, args.fields, args.interface)
        if not found:
            return {
                "device": args.device,
                "minutes": args.minutes,
                "series": [],
                "note": f"no {args.measurement} points in the last {args.minutes:g} minutes "
                "(the local store keeps store.retention_hours)",
            }
        return {"device": args.device, "minutes": args.minutes, "series": found}

    tools = [
        ToolSpec(
            "device_metrics",
            "A device's newest metric values: interface counters and rates (bits/s, errors/s, "
            "utilisation %), CPU, memory, uptime, poll health.",
            MetricsArgs,
            device_metrics,
        ),
        ToolSpec(
            "interface_problems",
            "A device's interfaces that are enabled but down, or show errors or discards now.",
            DeviceArgs,
            problems,
        ),
    ]
    if window is not None:
        tools.append(
            ToolSpec(
                "metrics_window",
                "A device's metrics over the last N minutes, per interface (or series): "
                "first, last, min, max (and when), mean and how often each rate, utilisation "
                "or status changed.",
                WindowArgs,
                over_window,
            )
        )
    return tools


def registry(
    core: AppCore,
    host: PluginHost | None = None,
    latest: Latest | None = None,
    window: Window | None = None,
    start_playbook: StartPlaybook | None = None,
) -> ToolRegistry:
    """genosd's tools (with the metric tools when the daemon's store is given, and
    run_playbook when the daemon's runner is) and every active plugin's, in one registry."""
    tools = core_tools(core) + troubleshoot_tools(core)
    tools += metric_tools(core, latest, window) if latest is not None else []
    if start_playbook is not None:
        tools.append(run_tool(start_playbook))
    for record in host.active if host is not None else []:
        for tool in record.contributions.tools:
            tools.append(
                ToolSpec(
                    tool.name,
                    tool.description,
                    tool.args,
                    tool.run,
                    tool.role,
                    owner=record.name,
                )
            )
    return ToolRegistry(core, tools)


__all__ = ["NoArgs", "core_tools", "registry"]
