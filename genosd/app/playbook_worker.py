"""A part of a playbook step sent by another node (genosd.app.playbook_spread): run it here.

The part carries the playbook as its run started, the step and each host's variables; this node
runs the step over those of its hosts it knows (loops and `timeout` included) with its own SSH
sessions and pinned host keys, and sends a result per host back. Nothing is recorded here: the
run, its registered results and its events belong to the node that runs the playbook.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from genosd.app.core import AppCore
from genosd.app.playbook_records import HostResult, RunRecord
from genosd.app.playbook_spread import SPREAD_ACTIONS, encode
from genosd.app.playbook_steps import BatchRunner
from genosd.cluster.workqueue import Work
from genosd.errors import InvalidRequestError
from genosd.playbooks.model import Playbook, Step


async def run_part(core: AppCore, work: Work) -> dict[str, Any]:
    """Run the part's step over its hosts; their results, marked with this node."""
    body = work.payload
    try:
        playbook = Playbook.model_validate(body["playbook"])
        step = Step.model_validate(body["step"])
        hosts = [str(h) for h in body["hosts"]]
        contexts = {str(k): dict(v) for k, v in body["contexts"].items()}
        record = RunRecord(playbook.name, str(body["actor"]), bool(body["check"]), {}, [])
    except (KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise InvalidRequestError(f"an unreadable playbook part from {work.origin}: {exc}") from exc
    if step.action not in SPREAD_ACTIONS:
        raise InvalidRequestError(f"{step.action!r} steps are not run for other nodes")
    node = core.coordinator.node
    results: dict[str, HostResult] = {}
    devices = []
    for name in hosts:
        device = core.inventory.devices.get(name)
        if device is None or name not in contexts:
            results[name] = HostResult("failed", error=f"{name} is not in {node}'s inventory")
        else:
            devices.append(device)
    # record.id stays None: cancellation and events are the asking node's
    runner = BatchRunner(core, playbook, record, {})
    runner.contexts = contexts
    results.update(await runner.run_here(step, devices))
    return encode(results, node)
