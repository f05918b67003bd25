"""BGP and OSPF neighbours that are not up, from parsed `show ip bgp summary` / `show ip ospf
neighbor` (and the platforms' equivalents) where the platform reports them."""

from __future__ import annotations

from typing import Any

from genosd.troubleshoot.findings import Finding

_BGP_DOWN = ("idle", "active", "connect", "opensent", "openconfirm")


def first_value(row: dict[str, Any], *names: str) -> str:
    """The first of `names` a TextFSM row fills (a list's first item), as text; "" if none."""
    for name in names:
        value = row.get(name)
        if value not in (None, "", []):
            return str(value[0] if isinstance(value, list) else value)
    return ""


def bgp(device: str, rows: list[dict[str, Any]]) -> list[Finding]:
    """A finding per BGP peer whose state is not Established (a prefix count means it is)."""
    found = []
    for row in rows:
        peer = first_value(row, "bgp_neighbor", "bgp_neigh", "neighbor", "peer_ip", "neighbor_id")
        state = first_value(
            row, "state_or_prefixes_received", "state_pfxrcd", "state", "state_pfxacc", "bgp_state"
        )
        if not peer or not state or state.isdigit() or state.lower() == "established":
            continue
        down = state.lower().split("(")[0] in _BGP_DOWN or "admin" in state.lower()
        found.append(
            Finding(
                "bgp",
                "critical" if down else "warning",
                device,
                peer,
                f"BGP peer {peer} (AS {first_value(row, 'neighbor_as', 'neigh_as', 'remote_as', 'peer_as') or '?'})"
                f" is {state}, up/down {first_value(row, 'up_down', 'uptime') or '?'}",
                "Idle: configured but not trying (shutdown, no route to the peer, max-prefix); "
                "Active/Connect: TCP 179 not established (reachability, ACLs, update-source, "
                "AS numbers); check the peer's logs",
                {"row": row},
            )
        )
    return found


def ospf(device: str, rows: list[dict[str, Any]]) -> list[Finding]:
    """A finding per OSPF neighbour not in FULL (2WAY is normal between DROTHERs)."""
    found = []
    for row in rows:
        neighbor = first_value(row, "neighbor_id", "neighbor_ipaddr", "ip_address", "address")
        state = first_value(row, "state")
        if not neighbor or not state:
            continue
        base = state.split("/")[0].strip().upper()
        if base == "FULL" or (base == "2WAY" and "DROTHER" in state.upper()):
            continue
        stuck = base in ("INIT", "EXSTART", "EXCHANGE", "DOWN", "ATTEMPT", "LOADING")
        found.append(
            Finding(
                "ospf",
                "critical" if stuck else "warning",
                device,
                neighbor,
                f"OSPF neighbour {neighbor} on {first_value(row, 'interface') or '?'} is {state}",
                "INIT: hellos one way only (ACL, multicast); EXSTART/EXCHANGE: an MTU mismatch; "
                "LOADING: LSA requests not answered; check both ends' area, timers and MTU",
                {"row": row},
            )
        )
    return found
