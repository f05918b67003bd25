"""Discovery as the daemon and the CLI run it: a run recorded with its proposals, then an
operator's decision on each proposal (accepted into hosts.yaml, or dismissed), audited and
published on the `discovery` topic."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import asdict
from typing import Any

from genosd.app.core import AppCore
from genosd.app.topology import neighbor_rows
from genosd.collectors.facts import stored_facts
from genosd.discovery import inventory_file, store
from genosd.discovery.crawl import Scope, crawl, first_leads
from genosd.discovery.probe import Neighbor, probe
from genosd.discovery.proposals import KnownDevice, Proposal, review
from genosd.errors import ConflictError, InvalidRequestError, NotFoundError

log = logging.getLogger(__name__)
_inventory_lock = asyncio.Lock()  # one writer of hosts.yaml per process


def check_configured(core: AppCore) -> None:
    """InvalidRequestError when discovery has nowhere to look."""
    settings = core.settings.discovery
    if not settings.seeds and not settings.ranges:
        raise InvalidRequestError(
            "discovery has nowhere to look: set discovery.seeds and/or discovery.ranges"
        )


async def begin(core: AppCore, actor: str) -> int:
    """Record a new run as `running`; its id (the caller goes on with `finish`)."""
    check_configured(core)
    run_id = await core.db.run(store.begin, actor, time.time())
    core.events.publish("discovery", {"run": run_id, "status": "running", "actor": actor})
    return run_id


async def finish(core: AppCore, run_id: int, actor: str) -> dict[str, Any]:
    """Probe, crawl and compare with the inventory; the stored run."""
    try:
        return await _finish(core, run_id, actor)
    except asyncio.CancelledError:
        await core.db.run(store.fail, run_id, "interrupted", "the daemon stopped", time.time())
        raise
    except Exception as exc:
        log.exception("discovery run %s failed", run_id)
        await core.db.run(store.fail, run_id, "failed", str(exc), time.time())
        core.events.publish("discovery", {"run": run_id, "status": "failed", "error": str(exc)})
        raise


async def run(core: AppCore, actor: str) -> dict[str, Any]:
    """A whole run, start to end: the stored run."""
    return await finish(core, await begin(core, actor), actor)


async def _hints(core: AppCore) -> list[tuple[str, Neighbor]]:
    """LLDP/CDP neighbours in the inventory devices' stored SSH facts."""
    if not core.settings.discovery.use_facts:
        return []
    names = list(core.inventory.devices)
    stored = await core.db.run(lambda db: {n: stored_facts(db, n) for n in names})
    hints = []
    for name, found in stored.items():
        if found is None:
            continue
        for local, neighbor, remote, address in neighbor_rows(found.facts):
            hints.append((name, Neighbor(local, neighbor, remote, address or None, "", "facts")))
    return hints


async def _finish(core: AppCore, run_id: int, actor: str) -> dict[str, Any]:
    settings = core.settings.discovery
    credentials = core.settings.credentials
    hints = await _hints(core)
    started = time.monotonic()
    result = await crawl(
        settings,
        lambda address: probe(address, settings, credentials),
        first_leads(settings, hints),
        hints,
    )
    now = time.time()
    devices = [
        KnownDevice(
            d.name,
            d.hostname,
            d.platform,
            (lambda h: h.last_success if h else None)(core.status.state(d).health),
        )
        for d in core.inventory.devices.values()
    ]
    last_seen = await core.db.run(store.last_seen)
    found = review(result, devices, Scope(settings), last_seen, now, settings.stale_days)
    await core.db.run(store.mark_seen, found.seen, found.first_looked)
    outside = sorted({(o.name, o.address or "", o.seen_from) for o in result.outside})
    summary = {
        "probed": result.probed,
        "answered": len(result.sightings),
        "silent": len(result.silent),
        "known": found.known,
        "outside": [{"name": n, "address": a or None, "seen_from": s} for n, a, s in outside],
        "duration": round(time.monotonic() - started, 3),
    }
    sightings = [
        {"depth": lead.depth, "via": lead.via, **asdict(s)} for lead, s in result.sightings
    ]
    await core.db.run(
        lambda db: store.finish(
            db,
            run_id,
            status="finished",
            stopped=result.stopped,
            summary=summary,
            sightings=sightings,
            proposals=found.proposals,
            now=now,
        )
    )
    counts = {
        kind: sum(p.kind == kind for p in found.proposals) for kind in ("add", "address", "stale")
    }
    await core.audit(
        actor=actor,
        action="discovery.run",
        target=f"discovery run {run_id}",
        details={"probed": result.probed, "answered": len(result.sightings), **counts},
    )
    core.events.publish(
        "discovery",
        {
            "run": run_id,
            "status": "finished",
            "stopped": result.stopped,
            "answered": len(result.sightings),
            "proposals": counts,
        },
    )
    return await core.db.run(store.get, run_id)


async def show(core: AppCore, run_id: int | None = None) -> dict[str, Any]:
    """A stored run (the newest when `run_id` is None)."""
    return await core.db.run(store.get, run_id)


async def recent(core: AppCore, limit: int = 20) -> list[dict[str, Any]]:
    """The newest runs, without their sightings."""
    return await core.db.run(store.recent, limit)


def _chosen(run: dict[str, Any], ids: list[int] | None) -> tuple[list[Proposal], list[Proposal]]:
    """(every proposal of the run, the open ones chosen); ids None means all open ones."""
    if run["status"] != "finished":
        raise ConflictError(f"discovery run {run['id']} is {run['status']}, not finished")
    proposals = store.proposals_of(run)
    by_id = {p.id: p for p in proposals}
    unknown = sorted(set(ids or ()) - set(by_id))
    if unknown:
        raise NotFoundError(f"discovery run {run['id']} has no proposal {unknown[0]}")
    chosen = [p for p in proposals if (ids is None or p.id in ids)]
    closed = [p for p in chosen if p.status != "open"]
    if ids is not None and closed:
        raise ConflictError(f"proposal {closed[0].id} was already {closed[0].status}")
    return proposals, [p for p in chosen if p.status == "open"]


async def accept(core: AppCore, run_id: int, ids: list[int] | None, actor: str) -> dict[str, Any]:
    """Write the chosen open proposals of a run into hosts.yaml (comments kept, the result
    checked to load first); the decisions and the file's diff."""
    async with _inventory_lock:
        run = await core.db.run(store.get, run_id)
        proposals, chosen = _chosen(run, ids)
        if not chosen:
            raise ConflictError(f"discovery run {run_id} has no open proposal to accept")
        directory = core.settings.inventory_dir
        hosts = directory / "hosts.yaml"
        now = time.time()

        def write() -> str:
            text = hosts.read_text() if hosts.exists() else ""
            new = inventory_file.edit(text, hosts, chosen, run_id, actor, now)
            return inventory_file.write_checked(directory, new, core.settings)

        diff = await asyncio.to_thread(write)
        for proposal in chosen:
            proposal.status, proposal.decided_by, proposal.decided_at = "accepted", actor, now
        await core.db.run(store.save_proposals, run_id, proposals)
    digest = hashlib.sha256(diff.encode()).hexdigest()
    await core.audit(
        actor=actor,
        action="discovery.accept",
        target=str(hosts),
        diff_hash=digest,
        details={
            "run": run_id,
            "proposals": [p.id for p in chosen],
            "devices": [f"{p.kind} {p.device}" for p in chosen],
            "diff": diff[:3000],  # the whole diff is in the file's history; the hash binds it
        },
    )
    core.events.publish(
        "discovery",
        {
            "run": run_id,
            "status": "accepted",
            "actor": actor,
            "proposals": [p.id for p in chosen],
            "devices": [p.device for p in chosen],
        },
    )
    return {"run": run_id, "accepted": [asdict(p) for p in chosen], "diff": diff}


async def dismiss(core: AppCore, run_id: int, ids: list[int], actor: str) -> dict[str, Any]:
    """Mark proposals dismissed (nothing written); the decisions."""
    run = await core.db.run(store.get, run_id)
    proposals, chosen = _chosen(run, ids)
    now = time.time()
    for proposal in chosen:
        proposal.status, proposal.decided_by, proposal.decided_at = "dismissed", actor, now
    await core.db.run(store.save_proposals, run_id, proposals)
    await core.audit(
        actor=actor,
        action="discovery.dismiss",
        target=f"discovery run {run_id}",
        details={"proposals": [p.id for p in chosen]},
    )
    core.events.publish(
        "discovery",
        {"run": run_id, "status": "dismissed", "actor": actor, "proposals": [p.id for p in chosen]},
    )
    return {"run": run_id, "dismissed": [asdict(p) for p in chosen]}


class DiscoveryRuns:
    """Runs the daemon goes on with in the background; one at a time, cancelled at stop."""

    def __init__(self) -> None:
        self._task: asyncio.Task[dict[str, Any]] | None = None

    async def start(self, core: AppCore, actor: str) -> int:
        """Begin a run and go on with it in the background; its id."""
        if self._task is not None and not self._task.done():
            raise ConflictError("a discovery run is already in progress")
        run_id = await begin(core, actor)
        self._task = asyncio.create_task(finish(core, run_id, actor), name=f"discovery-{run_id}")
        self._task.add_done_callback(_retrieve)
        return run_id

    async def stop(self) -> None:
        """Cancel a run in flight and wait for it to record that."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _retrieve(task: asyncio.Task[dict[str, Any]]) -> None:
    if not task.cancelled():
        task.exception()  # logged and recorded by finish(); retrieved so asyncio stays quiet
