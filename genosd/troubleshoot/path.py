"""The path between two devices over the LLDP/CDP graph, with each hop's link and utilisation."""

from __future__ import annotations

from collections import deque
from typing import Any

Utilisation = dict[tuple[str, str], dict[str, float]]  # (device, long interface) -> rates


def _walk(links: list[dict[str, Any]], start: str, goal: str) -> list[dict[str, Any]] | None:
    """The links of a shortest path (fewest hops), or None."""
    graph: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for link in links:
        graph.setdefault(link["a"], []).append((link["b"], link))
        graph.setdefault(link["b"], []).append((link["a"], link))
    previous: dict[str, tuple[str, dict[str, Any]] | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        for there, link in sorted(graph.get(here, []), key=lambda x: x[0]):
            if there not in previous:
                previous[there] = (here, link)
                queue.append(there)
    if goal not in previous:
        return None
    hops: list[dict[str, Any]] = []
    node = goal
    while (step := previous[node]) is not None:
        hops.append(step[1])
        node = step[0]
    return list(reversed(hops))


def find_path(
    topology: dict[str, Any], source: str, target: str, rates: Utilisation
) -> dict[str, Any]:
    """Hops from `source` to `target`, preferring links that are not down; each hop with its
    ends, link state and the utilisation of both interfaces (when they are polled)."""
    links = topology["links"]
    usable = [x for x in links if x["state"] != "down"]
    found = _walk(usable, source, target)
    through_down = False
    if found is None:
        found = _walk(links, source, target)
        through_down = found is not None
    if found is None:
        return {"source": source, "target": target, "found": False, "hops": []}
    hops = []
    here = source
    for link in found:
        forward = link["a"] == here
        out_dev, out_if = (
            (link["a"], link["a_interface"]) if forward else (link["b"], link["b_interface"])
        )
        in_dev, in_if = (
            (link["b"], link["b_interface"]) if forward else (link["a"], link["a_interface"])
        )
        egress = rates.get((out_dev, out_if), {})
        ingress = rates.get((in_dev, in_if), {})
        hops.append(
            {
                "from": out_dev,
                "from_interface": out_if,
                "to": in_dev,
                "to_interface": in_if,
                "state": link["state"],
                "out_utilization": egress.get("out_utilization"),
                "in_utilization": ingress.get("in_utilization"),
                "out_bps": egress.get("out_bps"),
                "errors_per_s": (egress.get("out_errors_rate") or 0)
                + (ingress.get("in_errors_rate") or 0)
                if egress or ingress
                else None,
            }
        )
        here = in_dev
    return {
        "source": source,
        "target": target,
        "found": True,
        "through_down_link": through_down,
        "hops": hops,
    }
