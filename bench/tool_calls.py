"""What the tool registry adds to a tool call (no model involved): argument validation, role
check, timeout, JSON result with redaction and size cap, and the audit entry; beside calling the
same tool function directly with ready-made arguments, in the same run.

Run from the repository root:
    .venv/bin/python -m bench.tool_calls [--calls 2000 --devices 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from genosd.app.core import tool_core
from genosd.app.snapshot import Sources, load_snapshot
from genosd.app.tool_catalog import OptionalDevice, core_tools
from genosd.app.tools import ToolRegistry
from genosd.auth.keys import Role


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


async def main() -> None:
    """Direct calls, then registry calls, alternating rounds; medians and p95 in ms."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--devices", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "inventory").mkdir()
        hosts = "".join(
            f"d{n}: {{hostname: 10.0.{n // 250}.{n % 250 + 1}, platform: ios}}\n"
            for n in range(args.devices)
        )
        (root / "inventory" / "hosts.yaml").write_text(hosts)
        config = root / "genosd.yaml"
        config.write_text(f"state_dir: {root / 'state'}\ninventory_dir: {root / 'inventory'}\n")
        async with tool_core(load_snapshot(Sources(config))) as core:
            tools = core_tools(core)
            spec = next(t for t in tools if t.name == "device_status")
            registry = ToolRegistry(core, tools)
            direct: list[float] = []
            through: list[float] = []
            for n in range(args.calls):
                device = f"d{n % args.devices}"
                began = time.perf_counter()
                await spec.run(OptionalDevice(device=device))
                direct.append(time.perf_counter() - began)
                began = time.perf_counter()
                result = await registry.call(
                    "device_status", {"device": device}, actor="bench", role=Role.viewer
                )
                through.append(time.perf_counter() - began)
                assert result.ok, result.error
    ms = 1000
    print(f"{args.calls} calls of device_status ({args.devices} devices)")
    print(f"direct    p50 {ms * statistics.median(direct):.3f} ms  p95 {ms * _p95(direct):.3f} ms")
    print(
        f"registry  p50 {ms * statistics.median(through):.3f} ms  p95 {ms * _p95(through):.3f} ms"
    )
    overhead = [t - d for t, d in zip(through, direct, strict=True)]
    print(
        f"added     p50 {ms * statistics.median(overhead):.3f} ms  p95 {ms * _p95(overhead):.3f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
