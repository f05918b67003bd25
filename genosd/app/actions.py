"""What a person may do from a chat (ChatOps): a fixed table of the application layer's
workflows, each with the least role it needs. A ChatOps plugin maps its users to roles and calls
`Actions.run(name, args, actor=…, role=…)`; the workflow does the rest as it does for the API
(four-eyes, approval bound to the diff's hash, audit with the chat user as actor). Nothing here is
offered to a model: these are people's actions, not tools.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genosd.alerts.silences import SilenceSpec
from genosd.app import changes as change_flow
from genosd.app import incidents
from genosd.app.alerting import IncidentDesk
from genosd.app.backups import run_backup
from genosd.app.core import AppCore
from genosd.app.tools import ToolRegistry
from genosd.auth.keys import Role
from genosd.config import changes
from genosd.errors import InvalidRequestError, NotFoundError, PermissionDenied

StartPlaybook = Callable[..., Awaitable[Any]]
ApproveRun = Callable[..., Awaitable[Any]]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Args):
    """A device or group name; none: every device."""

    target: str | None = None


class ToolCall(_Args):
    """A registry tool and its arguments."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Approval(_Args):
    """A change or run and the hash of what the approver saw."""

    id: int
    sha256: str | None = None


class Identified(_Args):
    """A change, run or incident."""

    id: int
    note: str | None = Field(None, max_length=2000)


class Devices(_Args):
    """Devices by name or group."""

    devices: list[str] = Field(min_length=1, max_length=500)


class PlaybookStart(_Args):
    """A playbook run (check mode unless `check` is false)."""

    name: str
    variables: dict[str, Any] = Field(default_factory=dict)
    check: bool = True


class IncidentQuery(_Args):
    """Which incidents."""

    status: str = "active"
    limit: int = Field(20, ge=1, le=100)


class SilenceRequest(_Args):
    """A silence from now on for `seconds`."""

    matchers: dict[str, str] = Field(min_length=1)
    seconds: float = Field(gt=0, le=90 * 86400)
    comment: str = Field(min_length=1, max_length=2000)


@dataclass(frozen=True)
class _Action:
    role: Role
    args: type[_Args]


ACTIONS: dict[str, _Action] = {
    "status": _Action(Role.viewer, Target),
    "tool": _Action(Role.viewer, ToolCall),  # the tool's own role is checked by the registry
    "pending": _Action(Role.viewer, _Args),
    "incidents": _Action(Role.viewer, IncidentQuery),
    "approve_change": _Action(Role.operator, Approval),
    "reject_change": _Action(Role.operator, Identified),
    "approve_run": _Action(Role.operator, Approval),
    "reject_run": _Action(Role.operator, Identified),
    "backup": _Action(Role.operator, Devices),
    "start_playbook": _Action(Role.operator, PlaybookStart),
    "incident_ack": _Action(Role.operator, Identified),
    "incident_resolve": _Action(Role.operator, Identified),
    "silence": _Action(Role.operator, SilenceRequest),
}


class Actions:
    """Runs the actions of the table against the daemon's services."""

    def __init__(
        self,
        core: AppCore,
        tools: Callable[[], ToolRegistry],
        start_playbook: StartPlaybook,
        approve_run: ApproveRun,
        desk: Callable[[], IncidentDesk],
    ):
        self.core = core
        self.tools = tools
        self.start_playbook = start_playbook
        self.approve_run = approve_run
        self.desk = desk

    async def run(self, name: str, args: dict[str, Any], *, actor: str, role: Role) -> Any:
        """Do action `name` as `actor` with `role`; NotFoundError for an unknown action,
        PermissionDenied below its role, InvalidRequestError for bad arguments."""
        action = ACTIONS.get(name)
        if action is None:
            raise NotFoundError(f"no action {name!r}")
        if not role.allows(action.role):
            raise PermissionDenied(f"{name} needs the {action.role.value} role")
        try:
            parsed = action.args.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidRequestError(f"{name}: {problems}") from None
        handler = getattr(self, f"_{name}")
        return await handler(parsed, actor, role)

    def _named(self, names: list[str]) -> list[Any]:
        """Devices named, or in groups named, in inventory order."""
        wanted = set(names)
        return [
            d for d in self.core.inventory.ordered if d.name in wanted or wanted & set(d.groups)
        ]

    async def _status(self, args: Target, actor: str, role: Role) -> dict[str, Any]:
        devices = self._named([args.target]) if args.target else list(self.core.inventory.ordered)
        if args.target and not devices:
            raise NotFoundError(f"no device or group {args.target!r}")
        rows = []
        for device in devices:
            state = self.core.status.state(device)
            vitals = self.core.status.vitals.get(device.name)
            rows.append({
                "device": device.name, "status": state.status, "platform": device.platform,
                "error": state.health.last_error if state.health else None,
                "uptime_seconds": vitals.uptime_seconds if vitals else None,
                "cpu_percent": vitals.cpu_percent if vitals else None,
            })  # fmt: skip
        counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("up", "down", "unknown")}
        return {"counts": counts, "devices": rows}

    async def _tool(self, args: ToolCall, actor: str, role: Role) -> dict[str, Any]:
        result = await self.tools().call(args.name, args.arguments, actor=actor, role=role)
        try:
            content: Any = json.loads(result.content) if result.ok else None
        except ValueError:
            content = result.content
        return {"ok": result.ok, "result": content, "error": result.error}

    async def _pending(self, args: _Args, actor: str, role: Role) -> dict[str, Any]:
        from genosd.app.playbook_records import load_run

        found = await self.core.db.run(lambda db: changes.list_changes(db, status="pending"))
        waiting_ids = await self.core.db.run(
            lambda db: [r[0] for r in db.execute(
                "SELECT id FROM playbook_runs WHERE status = 'waiting_approval' ORDER BY id"
            )]
        )  # fmt: skip
        runs = []
        for run_id in waiting_ids:
            record = await self.core.db.run(load_run, run_id)
            gate = record.gate
            bound = gate.changes if gate else []
            diff: list[str] = []
            for entry in bound:  # the diffs the gate's hash binds, as the approver sees them
                change = await self.core.db.run(changes.get_change, int(entry["change"]))
                diff += [f"# {change.device} (change {change.id})", *change.diff]
            runs.append({
                "id": record.id, "playbook": record.playbook, "actor": record.actor,
                "message": gate.message if gate else "", "sha256": gate.sha256 if gate else None,
                "changes": len(bound), "diff": diff,
            })  # fmt: skip
        return {
            "changes": [
                {"id": c.id, "device": c.device, "sha256": c.sha256, "diff": c.diff,
                 "created_by": c.created_by, "findings": len(c.findings),
                 "expires_at": c.expires_at}
                for c in found if not c.expired
            ],
            "runs": runs,
        }  # fmt: skip

    async def _incidents(self, args: IncidentQuery, actor: str, role: Role) -> list[dict[str, Any]]:
        status = None if args.status == "all" else args.status
        return await self.core.db.run(
            lambda db: incidents.list_incidents(db, status=status, limit=args.limit)
        )

    async def _approve_change(self, args: Approval, actor: str, role: Role) -> dict[str, Any]:
        if not args.sha256:
            raise InvalidRequestError("approving a change names the sha256 of its diff")
        change = await change_flow.approve(self.core, args.id, args.sha256, actor)
        return {"id": change.id, "device": change.device, "status": change.status}

    async def _reject_change(self, args: Identified, actor: str, role: Role) -> dict[str, Any]:
        change = await change_flow.reject(self.core, args.id, actor)
        return {"id": change.id, "device": change.device, "status": change.status}

    async def _approve_run(self, args: Approval, actor: str, role: Role) -> dict[str, Any]:
        record = await self.approve_run(args.id, actor=actor, role=role, sha256=args.sha256)
        return {"id": record.id, "playbook": record.playbook, "status": record.status}

    async def _reject_run(self, args: Identified, actor: str, role: Role) -> dict[str, Any]:
        from genosd.app import playbook_gates

        record = await playbook_gates.reject(self.core, args.id, actor)
        return {"id": record.id, "playbook": record.playbook, "status": record.status}

    async def _backup(self, args: Devices, actor: str, role: Role) -> dict[str, Any]:
        devices = self._named(args.devices)
        if not devices:
            raise NotFoundError(f"no device or group named {', '.join(args.devices)}")
        results = await run_backup(self.core, devices, actor)
        return {
            "devices": len(results),
            "changed": [r.device for r in results if r.changed],
            "failed": {r.device: r.error for r in results if not r.ok},
        }

    async def _start_playbook(self, args: PlaybookStart, actor: str, role: Role) -> dict[str, Any]:
        record = await self.start_playbook(
            args.name, actor=actor, role=role, variables=args.variables, check=args.check
        )
        return {"id": record.id, "playbook": record.playbook, "check": args.check}

    async def _incident_ack(self, args: Identified, actor: str, role: Role) -> dict[str, Any]:
        return await self.desk().acknowledge(args.id, actor, args.note)

    async def _incident_resolve(self, args: Identified, actor: str, role: Role) -> dict[str, Any]:
        return await self.desk().resolve(args.id, actor, args.note)

    async def _silence(self, args: SilenceRequest, actor: str, role: Role) -> dict[str, Any]:
        spec = SilenceSpec(
            matchers=args.matchers, ends_at=time.time() + args.seconds, comment=args.comment
        )
        silence = await self.desk().silence(spec, actor)
        return silence.model_dump(mode="json")
