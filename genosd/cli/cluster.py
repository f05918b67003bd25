"""`genosd cluster status`: the nodes sharing the work, read from Redis without joining."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from genosd.cli.common import ConfigOption, fail, fail_config, out, print_json, snapshot
from genosd.errors import ConfigError

cluster_app = typer.Typer(
    help="Scale-out: the nodes sharing devices and jobs", no_args_is_help=True
)


async def _observe(snap: Any) -> dict[str, Any]:
    from redis.exceptions import RedisError

    from genosd.app.cluster import picture
    from genosd.cluster.redis_coordinator import RedisCoordinator

    coordinator = RedisCoordinator(snap.settings.cluster, member=False)
    try:
        await coordinator.observe()
        leases = await coordinator.leases()
    except (RedisError, OSError) as exc:
        fail(f"cannot reach Redis at {snap.settings.cluster.redis_url}: {exc}")
    finally:
        await coordinator.redis.aclose()
    return {
        "backend": "redis",
        **picture(coordinator, snap.inventory.devices.values()),
        "leases": leases,
    }


@cluster_app.command("status")
def cluster_status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: ConfigOption = None,
) -> None:
    """Live nodes, their poller groups, devices and lag, and the leader (exit 1: Redis down)."""
    try:
        snap = snapshot(config)
    except ConfigError as exc:
        fail_config(exc)
    if snap.settings.cluster.backend == "local":
        picture: dict[str, Any] = {
            "backend": "local",
            "leader": snap.settings.cluster.node,
            "nodes": [],
            "unowned_devices": 0,
            "leases": [],
        }
    else:
        picture = asyncio.run(_observe(snap))
    if as_json:
        print_json(picture)
        return
    if picture["backend"] == "local":
        out().print("a single node (cluster.backend: local): it polls every device")
        return
    table = Table("node", "groups", "devices", "lag p99 (s)", "last beat", "api")
    for node in picture["nodes"]:
        beat = node["last_beat"]
        table.add_row(
            node["node"] + (" (leader)" if node["node"] == picture["leader"] else ""),
            ", ".join(node["groups"]),
            str(node["devices"]),
            "" if node["lag_p99"] is None else f"{node['lag_p99']:.2f}",
            f"{time.time() - beat:.1f}s ago" if beat else "",
            node["api"] or "",
        )
    out().print(table)
    for lease in picture["leases"]:
        out().print(f"lease {lease['name']}: {lease['holder']} ({lease['expires_in']:g}s left)")
    if picture["unowned_devices"]:
        out().print(f"[yellow]{picture['unowned_devices']} devices: no live node polls their group")
