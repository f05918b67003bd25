"""Reports from what genosd knows: inventory (models, software), health, capacity, compliance
and changes; rendered as HTML, CSV or JSON, written under `reports.directory` and sent to
webhooks and chat through the notification queue (retried like incident notifications)."""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

from genosd.app import notify
from genosd.app.compliance import fleet_report
from genosd.app.core import AppCore
from genosd.app.health import capacity, health
from genosd.collectors.facts import stored_facts
from genosd.config.changes import list_changes
from genosd.errors import InvalidRequestError
from genosd.reports.model import KINDS, Chart, Format, Report, Table
from genosd.reports.render import render
from genosd.troubleshoot.routing import first_value

DAY = 86400.0


async def inventory_report(core: AppCore) -> Report:
    """Every device with its platform, model, software version and serial (from SSH facts)."""
    devices = list(core.inventory.devices.values())
    stored = await core.db.run(lambda db: {d.name: stored_facts(db, d.name) for d in devices})
    rows = []
    for d in devices:
        found = stored.get(d.name)
        version = (found.facts.get("version") or [{}])[0] if found else {}
        rows.append(
            [
                d.name,
                d.hostname,
                d.platform or "",
                first_value(version, "hardware", "model", "platform"),
                first_value(version, "version", "image", "junos_version", "os"),
                first_value(version, "serial", "serial_number"),
                d.site or "",
                d.role or "",
                ", ".join(d.groups),
            ]
        )
    platforms = collections.Counter(r[2] or "unknown" for r in rows)
    versions = collections.Counter(f"{r[2] or '?'} {r[4]}" for r in rows if r[4]).most_common(20)
    without = sum(1 for r in rows if not r[4])
    return Report(
        "inventory",
        "Inventory: models and software",
        time.time(),
        {"devices": len(rows), "platforms": len(platforms), "without_facts": without},
        [
            Chart(
                "Devices per platform",
                "bar",
                list(platforms),
                {"devices": list(map(float, platforms.values()))},
            ),
            Chart(
                "Software versions",
                "bar",
                [v for v, _ in versions],
                {"devices": [float(n) for _, n in versions]},
            ),
        ],
        [
            Table(
                "Devices",
                [
                    "device",
                    "hostname",
                    "platform",
                    "model",
                    "version",
                    "serial",
                    "site",
                    "role",
                    "groups",
                ],
                sorted(rows),
            )
        ],
        [f"{without} devices have no SSH facts yet (models and versions come from them)"]
        if without
        else [],
    )


async def health_report(core: AppCore) -> Report:
    """Scores per group and device, and what lowered them."""
    found = await health(core)
    groups = [g for g in found["groups"] if g["group"] != "all"] or found["groups"]
    scored = [d for d in found["devices"] if d["score"] is not None]
    worst = scored[:20]
    return Report(
        "health",
        "Health",
        found["at"],
        {
            "fleet_score": found["fleet"],
            "devices": len(found["devices"]),
            "below_70": sum(1 for d in scored if d["score"] < 70),
            "unknown": len(found["unknown"]),
        },
        [
            Chart(
                "Score per group",
                "bar",
                [g["group"] for g in groups],
                {"score": [g["score"] for g in groups]},
                limit=70,
            ),
            Chart(
                "Lowest scores",
                "bar",
                [d["device"] for d in worst],
                {"score": [d["score"] for d in worst]},
                limit=70,
            ),
        ],
        [
            Table(
                "Devices",
                ["device", "score", *_PARTS, "why"],
                [
                    [d["device"], d["score"], *(d["parts"].get(p) for p in _PARTS), d["reasons"]]
                    for d in found["devices"]
                ],
            ),
            Table(
                "Groups",
                ["group", "score", "devices", "poor", "worst", "worst score", "why"],
                [
                    [
                        g["group"],
                        g["score"],
                        g["devices"],
                        g["poor"],
                        g["worst"],
                        g["worst_score"],
                        g["reasons"],
                    ]
                    for g in found["groups"]
                ],
            ),
        ],
    )


_PARTS = ("reachability", "cpu", "memory", "interfaces", "compliance", "backup")
_LINK_COLUMNS = [
    "device",
    "interface",
    "direction",
    "p50 %",
    "p95 %",
    "peak %",
    "trend %/day",
    "now %",
    "days to threshold",
    "crosses on",
    "days of data",
]


def _link_row(x: dict[str, Any]) -> list[Any]:
    return [
        x["device"],
        x["interface"],
        x["direction"],
        x["p50"],
        x["p95"],
        x["peak"],
        x["slope_per_day"],
        x["now"],
        x["days_to_threshold"],
        x["crosses_on"],
        x["days"],
    ]


async def capacity_report(core: AppCore) -> Report:
    """Links crossing the threshold soon, the fastest growing, the busiest."""
    found = await capacity(core)
    growth = found["top_growth"][:15]
    busiest = found["busiest"][:15]
    return Report(
        "capacity",
        f"Capacity over {found['days']} days",
        found["at"],
        {
            "links": found["links"],
            "with_trend": found["with_trend"],
            f"crossing_{found['threshold']:g}%_within_{found['horizon_days']:g}_days": found[
                "crossing_total"
            ],
            "source": found["source"],
        },
        [
            Chart(
                "Fastest growing links (95th percentile, points per day)",
                "bar",
                [f"{x['device']} {x['interface']}" for x in growth],
                {"trend": [x["slope_per_day"] for x in growth]},
                unit="/day",
            ),
            Chart(
                "Busiest links (95th percentile of daily 95th percentiles)",
                "bar",
                [f"{x['device']} {x['interface']}" for x in busiest],
                {"p95": [x["p95"] for x in busiest]},
                unit="%",
                limit=found["threshold"],
            ),
        ],
        [
            Table(
                "Links crossing the threshold",
                _LINK_COLUMNS,
                [_link_row(x) for x in found["crossing"]],
            ),
            Table("Fastest growing", _LINK_COLUMNS, [_link_row(x) for x in found["top_growth"]]),
        ],
        [] if found["links"] else [f"no utilisation data in the {found['source']} for the window"],
    )


async def compliance_report(core: AppCore) -> Report:
    """Scores per device and the rules failing most."""
    fleet = await fleet_report(core, None)
    checked = sorted((i for i in fleet.items if i.score is not None), key=lambda i: i.score or 0)
    lowest = checked[:20]
    top_rules = fleet.rules[:20]
    return Report(
        "compliance",
        "Compliance",
        fleet.generated_at,
        {
            "average_score": fleet.average_score,
            "devices": fleet.devices,
            "checked": fleet.checked,
            "below_100": fleet.below_100,
        },
        [
            Chart(
                "Lowest scores",
                "bar",
                [i.device for i in lowest],
                {"score": [i.score for i in lowest]},
                limit=100,
            ),
            Chart(
                "Rules failing on most devices",
                "bar",
                [r.rule for r in top_rules],
                {"devices": [float(r.devices) for r in top_rules]},
            ),
        ],
        [
            Table(
                "Devices",
                [
                    "device",
                    "score",
                    "rules applied",
                    "rules passed",
                    "failing",
                    "newly failing",
                    "waived",
                ],
                [
                    [
                        i.device,
                        i.score,
                        i.rules_applied,
                        i.rules_passed,
                        i.failing_rules,
                        i.newly_failing,
                        i.waived,
                    ]
                    for i in sorted(fleet.items, key=lambda i: (i.score is None, i.score or 0))
                ],
            ),
            Table(
                "Rules",
                ["rule", "severity", "devices", "waived"],
                [[r.rule, r.severity, r.devices, r.waived] for r in fleet.rules],
            ),
        ],
    )


async def changes_report(core: AppCore, days: int = 30) -> Report:
    """Planned and deployed config changes over the last `days`, per day and per device."""
    now = time.time()
    since = now - days * DAY
    changes = [c for c in await core.db.run(list_changes) if c.created_at >= since]
    labels = [time.strftime("%m-%d", time.gmtime(since + (n + 1) * DAY)) for n in range(days)]
    per_day: dict[str, dict[int, float]] = {"planned": {}, "deployed": {}, "failed": {}}
    for change in changes:
        day = min(days - 1, int((change.created_at - since) // DAY))
        per_day["planned"][day] = per_day["planned"].get(day, 0) + 1
        if change.status in ("deployed", "failed", "rolled_back"):
            key = "deployed" if change.status == "deployed" else "failed"
            per_day[key][day] = per_day[key].get(day, 0) + 1
    series: dict[str, list[float | None]] = {
        k: [v.get(n, 0.0) for n in range(days)] for k, v in per_day.items()
    }
    statuses = collections.Counter(str(c.status) for c in changes)
    return Report(
        "changes",
        f"Config changes, last {days} days",
        now,
        {"changes": len(changes), **dict(statuses)},
        [Chart("Changes per day", "line", labels, series)],
        [
            Table(
                "Changes",
                [
                    "id",
                    "device",
                    "kind",
                    "status",
                    "planned",
                    "by",
                    "approved by",
                    "finished",
                    "lines",
                ],
                [
                    [
                        c.id,
                        c.device,
                        c.kind,
                        c.status,
                        time.strftime("%Y-%m-%d %H:%M", time.gmtime(c.created_at)),
                        c.created_by,
                        c.approved_by,
                        time.strftime("%Y-%m-%d %H:%M", time.gmtime(c.finished_at))
                        if c.finished_at
                        else None,
                        len(c.commands),
                    ]
                    for c in changes
                ],
            )
        ],
    )


BUILDERS = {
    "inventory": inventory_report,
    "health": health_report,
    "capacity": capacity_report,
    "compliance": compliance_report,
    "changes": changes_report,
}


async def build(core: AppCore, kind: str) -> Report:
    """One report (InvalidRequestError for an unknown kind)."""
    builder = BUILDERS.get(kind)
    if builder is None:
        raise InvalidRequestError(f"unknown report {kind!r}; known: {', '.join(KINDS)}")
    return await builder(core)


def directory(core: AppCore) -> Path:
    """Where reports are written."""
    path = Path(core.settings.reports.directory)
    return path if path.is_absolute() else core.settings.state_dir / path


def write(core: AppCore, report: Report, formats: list[Format]) -> list[Path]:
    """Write the report in each format (atomically); older ones beyond `reports.keep` go."""
    folder = directory(core)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(report.generated_at))
    written = []
    for fmt in formats:
        path = folder / f"{report.kind}-{stamp}.{fmt}"
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(render(report, fmt))
        partial.replace(path)
        written.append(path)
        old = sorted(folder.glob(f"{report.kind}-*.{fmt}"))
        for stale in old[: max(0, len(old) - core.settings.reports.keep)]:
            stale.unlink(missing_ok=True)
    return written


def message(report: Report, files: list[Path]) -> dict[str, Any]:
    """What a webhook or a chat channel receives: the summary and where the files are."""
    return {
        "event": "report",
        "kind": report.kind,
        "title": report.title,
        "generated_at": report.generated_at,
        "summary": report.summary,
        "files": [str(f) for f in files],
        "csv": render(report, "csv")[:20_000],
    }


async def send(core: AppCore, report: Report, files: list[Path], targets: list[str]) -> list[str]:
    """Queue the report's message for each target (`webhook:NAME`, `chatops:slack`, …)."""
    known = set(core.settings.alerts.webhooks)
    for target in targets:
        kind, _, name = target.partition(":")
        if kind == "webhook" and name not in known:
            raise InvalidRequestError(f"no webhook {name!r} in alerts.webhooks")
        if kind not in ("webhook", "chatops"):
            raise InvalidRequestError(
                f"a report goes to webhook:NAME or chatops:NAME, not {target!r}"
            )
    payload = message(report, files)
    await core.db.run(notify.enqueue, targets, 0, "report", payload)
    return targets
