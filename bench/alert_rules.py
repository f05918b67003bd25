"""Alert rule evaluation at 10,000 devices: what the built-in rules cost per poll cycle.

One cycle is what a 60 s poll interval brings: per device one `snmp` point, one `snmp_cpu`, one
`snmp_mem` and 48 `interface` points (510,000 points at 10,000 devices), 2% of the interfaces
down while admin up and 1% over 90% utilised; then the state evaluation (1% of the devices down)
and a tick. Beside it, the reference: a bare loop that reads every point's measurement and each
field the rules name — the least any evaluator must do. Reports the median of the cycles (the
first one, which creates every series' state, separately), the ratio to the reference, and the
evaluator's memory for its per-series state.

Run from the repository root:
    .venv/bin/python -m bench.alert_rules [--devices 10000 --interfaces 48 --cycles 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

from genosd.alerts.engine import Evaluator
from genosd.alerts.rules import load_rules
from genosd.metrics.model import FieldValue, Point


def cycle_points(devices: int, interfaces: int, cycle: int) -> list[Point]:
    """One poll cycle's points for every device."""
    points = []
    for d in range(devices):
        device = f"dev{d:05d}"
        base = {"device": device, "agent_host": f"10.{d >> 8 & 255}.{d & 255}.1"}
        points.append(Point("snmp", base, {"uptime": 100 * cycle}, cycle))
        points.append(
            Point("snmp_cpu", {**base, "cpu": "1"}, {"load_percent": (d * 7) % 100}, cycle)
        )
        points.append(Point("snmp_mem", {**base, "pool": "ram"}, {"used_percent": 50.0}, cycle))
        for i in range(interfaces):
            down = (d * interfaces + i) % 50 == 0
            hot = (d * interfaces + i) % 100 == 1
            fields: dict[str, FieldValue] = {
                "ifOperStatus": 2 if down else 1,
                "ifAdminStatus": 1,
                "in_utilization": 95.0 if hot else 12.5,
                "out_utilization": 3.0,
                "in_errors_rate": 0.0,
                "out_errors_rate": 0.0,
                "in_discards_rate": 0.0,
                "out_discards_rate": 0.0,
                "ifHCInOctets": 10_000 * cycle,
            }
            tags = {**base, "ifName": f"Gi0/{i}", "ifIndex": str(i + 1)}
            points.append(Point("interface", tags, fields, cycle))
    return points


def reference(points: list[Point], names: set[str]) -> int:
    """The bare minimum: each point's measurement and the fields rules look at."""
    seen = 0
    for point in points:
        if point.measurement in ("interface", "snmp_cpu", "snmp_mem"):
            fields = point.fields
            for name in names:
                if name in fields:
                    seen += 1
    return seen


def state_memory(rules: list, devices: int, interfaces: int) -> int:
    """Bytes the evaluator holds after two cycles (measured apart: tracemalloc slows all)."""
    tracemalloc.start()
    evaluator = Evaluator(rules, lambda name: {"site": "fra1"})
    before, _ = tracemalloc.get_traced_memory()
    for cycle in range(2):
        points = cycle_points(devices, interfaces, cycle)
        evaluator.observe_points(points, 1000.0 + cycle * 60)
        del points
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--interfaces", type=int, default=48)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    rules = load_rules([])
    names = {f for rule in rules for f in rule.fields}
    evaluator = Evaluator(rules, lambda name: {"site": "fra1"})
    down = {f"dev{d:05d}" for d in range(0, args.devices, 100)}
    ours, bare, states = [], [], []
    first = 0.0
    fired = 0
    for cycle in range(args.cycles + 1):
        points = cycle_points(args.devices, args.interfaces, cycle)
        now = 1000.0 + cycle * 60
        started = time.perf_counter()
        out = evaluator.observe_points(points, now)
        took = time.perf_counter() - started
        started = time.perf_counter()
        out += evaluator.observe_states(now, down=down, backup_failures={}, spooled=0)
        out += evaluator.tick(now)
        state_took = time.perf_counter() - started
        fired += sum(1 for t in out if t.kind == "fired")
        started = time.perf_counter()
        reference(points, names)
        bare_took = time.perf_counter() - started
        if cycle == 0:
            first = took
        else:
            ours.append(took)
            bare.append(bare_took)
            states.append(state_took)
        del points
    current = state_memory(rules, args.devices, args.interfaces)
    n = args.devices * (3 + args.interfaces)
    print(
        f"{args.devices} devices x {args.interfaces} interfaces: {n:,} points per cycle, "
        f"{len(rules)} built-in rules, {args.cycles} cycles (median)"
    )
    print(
        f"  points through the rules: {statistics.median(ours):.3f} s per cycle "
        f"({statistics.median(ours) / n * 1e6:.2f} us per point); first cycle {first:.3f} s"
    )
    print(
        f"  reference (read the fields): {statistics.median(bare):.3f} s  "
        f"ratio {statistics.median(ours) / statistics.median(bare):.1f}x"
    )
    print(
        f"  states (device down, backups, spool) + tick: {statistics.median(states) * 1000:.1f} ms"
    )
    print(
        f"  alerts fired: {fired}; firing {len(evaluator.firing)}; pending {len(evaluator.pending)}"
    )
    print(
        f"  evaluator state after the run (tracemalloc, points freed): {current / 2**20:.1f} MiB "
        f"({current / args.devices / 1024:.1f} KiB per device)"
    )


if __name__ == "__main__":
    main()
