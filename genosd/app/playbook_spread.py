"""A playbook step's hosts spread over the cluster's nodes (the asking side).

In a cluster (`cluster.backend: redis`) the steps that only read devices and keep nothing on the
node (`show`, `poll`) do not run on the node that runs the playbook: their hosts go in parts to
the work queue of each host's poller group (genosd.app.fanout), any node serving that group runs
a part (loops, `timeout` and all) and sends the per-host results back. A node that dies with a
part is passed over: after `cluster.work_lease` another node takes the part and runs it again
(reading is safe to repeat), so the run still completes. Everything else (conditions, retries,
`until`, registering, the run record) stays on the asking node, and so do the steps that use its
state: backups and facts (stored history), plans, approvals and deploys (change records),
notify and llm.

The worker's side is genosd.app.playbook_worker.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from genosd.app.core import AppCore
from genosd.app.fanout import fan_out, part_failure
from genosd.app.playbook_records import HostResult, RunRecord
from genosd.cluster import WorkResult
from genosd.inventory import Device
from genosd.playbooks.model import Step

KIND = "playbook.hosts"
SPREAD_ACTIONS = frozenset({"show", "poll"})


def spreads(core: AppCore, step: Step) -> bool:
    """Whether this step's hosts go to the cluster's nodes rather than run here."""
    return core.work.distributed and step.action in SPREAD_ACTIONS


def payload(
    record: RunRecord, step: Step, hosts: list[Device], contexts: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """What a node needs to run `step` over `hosts`: the playbook, the step, each host's variables."""
    return {
        "run": record.id,
        "playbook": record.definition,
        "actor": record.actor,
        "check": record.check,
        "step": step.model_dump(mode="json", by_alias=True, exclude_unset=True),
        "hosts": [d.name for d in hosts],
        "contexts": {d.name: contexts[d.name] for d in hosts},
    }


def host_results(result: WorkResult, hosts: list[str]) -> dict[str, HostResult]:
    """A part's per-host results; every host failed, with the reason, when the part failed."""
    failure = part_failure(result)
    if failure is not None:
        return {name: HostResult("failed", error=failure, node=result.node) for name in hosts}
    found = result.data.get("hosts", {})
    outcomes = {}
    for name in hosts:
        try:
            outcomes[name] = HostResult(**found[name])
        except (KeyError, TypeError):
            error = f"{result.node} sent no result for {name}"
            outcomes[name] = HostResult("failed", error=error, node=result.node)
    return outcomes


def encode(results: dict[str, HostResult], node: str) -> dict[str, Any]:
    """A part's results as sent back, each marked with the node that ran it."""
    return {"hosts": {name: {**asdict(r), "node": node} for name, r in results.items()}}


async def spread(
    core: AppCore,
    record: RunRecord,
    step: Step,
    devices: list[Device],
    contexts: dict[str, dict[str, Any]],
) -> dict[str, HostResult]:
    """Run `step` over `devices` on the nodes serving their poller groups; a result per host."""
    results: dict[str, HostResult] = {}
    answered = await fan_out(
        core, KIND, devices, lambda part: payload(record, step, part, contexts)
    )
    for names, result in answered:
        results.update(host_results(result, names))
    return results
