"""The troubleshooting checks as tools the assistant, MCP clients and playbooks call."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genosd.app import troubleshoot
from genosd.app.core import AppCore
from genosd.app.tools import Caller, ToolSpec
from genosd.auth.keys import Role

LookupKind = Literal["ping", "traceroute", "arp", "mac", "route", "counters", "bgp", "ospf"]
DEVICE = Field(min_length=1, max_length=200, description="an inventory device name")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiagnoseArgs(_Args):
    """One device's checks."""

    device: str = DEVICE
    minutes: float = Field(60, gt=0, le=7 * 24 * 60, description="poll history looked at (flaps)")
    routing: bool = Field(False, description="also read BGP and OSPF neighbours over SSH")


class PathArgs(_Args):
    """Two devices of the LLDP/CDP graph."""

    source: str = DEVICE
    target: str = DEVICE


class LookupArgs(_Args):
    """One read-only lookup run from a device."""

    device: str = DEVICE
    kind: LookupKind
    target: str | None = Field(
        None,
        max_length=253,
        description="an address or host name (ping, traceroute), IP (arp), MAC (mac), address "
        "or prefix (route), interface (counters); none for bgp and ospf",
    )


def _who(caller: Caller) -> str:
    return f"{caller.actor} via {caller.agent or 'tools'}"


def troubleshoot_tools(core: AppCore) -> list[ToolSpec]:
    """diagnose_device, network_path and device_lookup."""

    async def diagnose(args: Any, caller: Caller) -> Any:
        return await troubleshoot.diagnose(
            core, args.device, minutes=args.minutes, routing_state=args.routing, actor=_who(caller)
        )

    async def find(args: Any) -> Any:
        return await troubleshoot.path(core, args.source, args.target)

    async def lookup(args: Any, caller: Caller) -> Any:
        return await troubleshoot.lookup(core, args.device, args.kind, args.target, _who(caller))

    return [
        ToolSpec(
            "diagnose_device",
            "Explain what is wrong with a device: interface errors (CRC vs input errors vs "
            "drops), duplex/speed mismatches with its LLDP/CDP neighbours, flapping interfaces "
            "from the poll history, neighbours lost, and (routing=true) BGP/OSPF neighbours "
            "not up. Each finding says what it means and what to check.",
            DiagnoseArgs,
            diagnose,
            timeout=120,
            with_caller=True,
        ),
        ToolSpec(
            "network_path",
            "The path between two devices over the LLDP/CDP graph: each hop's interfaces, "
            "link state and utilisation.",
            PathArgs,
            find,
        ),
        ToolSpec(
            "device_lookup",
            "Run a read-only lookup from a device: ping or traceroute a target, find an ARP "
            "entry, a MAC address, a route, one interface's counters, or the BGP/OSPF neighbours.",
            LookupArgs,
            lookup,
            Role.operator,  # it makes a production device send traffic
            timeout=120,
            with_caller=True,
        ),
    ]
