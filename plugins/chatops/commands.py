"""The bot's commands, the same on every platform: parse the text, check the grant, do it
through genosd's workflows (`context.act`, the assistant), and say what happened.

A reply is platform-neutral (a title, lines, a code block, buttons); slack.py and
mattermost.py render it. Buttons carry the action and what it is bound to (a change's id and
the hash of the diff shown), so a click approves exactly what the message showed.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from genosd.plugin import GenosdError, PluginContext, Role
from plugins.chatops.access import ChatUser, role_for
from plugins.chatops.settings import ChatOpsSettings

HELP = """Commands:
status [device|group]            devices up/down, uptime, CPU
problems <device>                interfaces down while enabled, or with errors/discards
changes [device]                 recent config changes;  diff <device>: the newest one's diff
incidents [all]                  open incidents;  ack <id> [note];  resolve <id> [note]
silence <device> <30m|2h|1d> <reason…>
pending                          changes and runs waiting for approval (with buttons)
approve change <id> <sha256> | approve run <id> [sha256];  reject change|run <id>
backup <device|group>            back up configs now
run <playbook> [key=value…] [--apply]   check mode unless --apply (deploys still wait for approval)
ask <question>                   the assistant (read-only tools, the knowledge base)"""
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Button:
    """An interactive button: what it says and the action it stands for."""

    label: str
    value: str  # "approve_change|12|<sha256>", "incident_ack|7", …
    style: str | None = None  # primary, danger


@dataclass
class Reply:
    """What the bot answers."""

    title: str
    lines: list[str] = field(default_factory=list)
    code: str | None = None  # a diff, a table: shown as a code block (split when long)
    buttons: list[Button] = field(default_factory=list)
    public: bool = False  # in the channel, or only to the asker
    error: bool = False


def refused(command: str) -> Reply:
    """The answer when no grant allows the command."""
    return Reply(f"Not allowed: `{command}`", ["Ask an admin to grant it in plugins.chatops.access."],
                 error=True)  # fmt: skip


class Bot:
    """Runs commands and button clicks for one plugin instance."""

    def __init__(self, settings: ChatOpsSettings, context: PluginContext):
        self.settings = settings
        self.context = context

    async def command(self, who: ChatUser, text: str) -> Reply:
        """A slash command's text."""
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        if not words or words[0] in ("help", "?"):
            return Reply("genosd", [], code=HELP)
        name, args = words[0].lower(), words[1:]
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            return Reply(f"Unknown command `{name}`", [], code=HELP, error=True)
        role = role_for(self.settings.access, who, name)
        if role is None:
            return refused(name)
        return await self._guarded(handler(who, role, args))

    async def button(self, who: ChatUser, value: str) -> Reply:
        """A button click: `action|id[|sha256]`."""
        action, _, rest = value.partition("|")
        command = {
            "approve_change": "approve", "approve_run": "approve", "reject_change": "reject",
            "reject_run": "reject", "incident_ack": "ack", "incident_resolve": "resolve",
        }.get(action)  # fmt: skip
        if command is None:
            return Reply("Unknown button", error=True)
        role = role_for(self.settings.access, who, command)
        if role is None:
            return refused(command)
        number, _, sha = rest.partition("|")
        if not number.isdigit():
            return Reply("Unknown button", error=True)
        args: dict[str, Any] = {"id": int(number)}
        if action.startswith("approve"):
            args["sha256"] = sha or None
        return await self._guarded(self._act(action, args, who, role))

    async def _guarded(self, work: Any) -> Reply:
        try:
            reply: Reply = await work
        except GenosdError as exc:  # refused by a workflow: say why (four-eyes, a stale hash …)
            return Reply("Refused", [str(exc)], error=True)
        return reply

    async def _act(self, action: str, args: dict[str, Any], who: ChatUser, role: Role) -> Reply:
        done = await self.context.act(action, args, actor=who.actor, role=role)
        what = action.replace("_", " ")
        target = done.get("device") or done.get("playbook") or done.get("title") or ""
        status = done.get("status", "done")
        return Reply(f"{what} #{args['id']}: {status}", [f"{target} — by {who.actor}"], public=True)

    # --- commands ----------------------------------------------------------------------------

    async def _cmd_status(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        found = await self.context.act(
            "status", {"target": args[0] if args else None}, actor=who.actor, role=role
        )
        counts = found["counts"]
        title = f"{counts['up']} up, {counts['down']} down, {counts['unknown']} unknown"
        rows = sorted(found["devices"], key=lambda d: (d["status"] != "down", d["device"]))
        lines = [_status_line(d) for d in rows[:50]]
        if len(rows) > 50:
            lines.append(f"… and {len(rows) - 50} more")
        return Reply(title, code="\n".join(lines))

    async def _cmd_problems(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if not args:
            return Reply("Usage: problems <device>", error=True)
        found = await self._tool(who, role, "interface_problems", {"device": args[0]})
        problems = found if isinstance(found, list) else found.get("interfaces", found)
        if not problems:
            return Reply(f"{args[0]}: no interface problems")
        return Reply(f"{args[0]}: interface problems", code=_as_text(problems))

    async def _cmd_changes(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        found = [
            c for c in self.context.config_changes(None, 200) if not args or c.device == args[0]
        ]
        newest = sorted(found, key=lambda c: c.time, reverse=True)[:10]
        if not newest:
            return Reply("No config changes recorded" + (f" for {args[0]}" if args else ""))
        lines = [
            f"{_when(c.time)}  {c.device:<20} {c.commit[:10]}  {diff_size(c.diff)}  {c.author}"
            for c in newest
        ]
        return Reply("Recent config changes", code="\n".join(lines))

    async def _cmd_diff(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if not args:
            return Reply("Usage: diff <device>", error=True)
        found = [c for c in self.context.config_changes(None, 200) if c.device == args[0]]
        if not found:
            return Reply(f"No config change recorded for {args[0]}")
        newest = max(found, key=lambda c: c.time)
        return Reply(
            f"{newest.device}: {newest.commit[:10]} at {_when(newest.time)} ({diff_size(newest.diff)})",
            code=newest.diff or "(no difference)",
        )

    async def _cmd_incidents(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        status = "all" if args[:1] == ["all"] else "active"
        found = await self.context.act("incidents", {"status": status}, actor=who.actor, role=role)
        if not found:
            return Reply("No active incidents" if status == "active" else "No incidents")
        lines = [f"#{i['id']} [{i['severity']}] {i['status']}: {i['title']}" for i in found[:20]]
        buttons = [
            Button(f"Ack #{i['id']}", f"incident_ack|{i['id']}", "primary")
            for i in found[:5]
            if i["status"] == "open"
        ]
        return Reply("Incidents", lines, buttons=buttons)

    async def _cmd_ack(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        return await self._incident("incident_ack", who, role, args)

    async def _cmd_resolve(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        return await self._incident("incident_resolve", who, role, args)

    async def _incident(self, action: str, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if not args or not args[0].lstrip("#").isdigit():
            return Reply(f"Usage: {action.split('_')[1]} <incident id> [note]", error=True)
        note = " ".join(args[1:]) or None
        return await self._act(action, {"id": int(args[0].lstrip("#")), "note": note}, who, role)

    async def _cmd_silence(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        duration = DURATION.match(args[1]) if len(args) >= 3 else None
        if duration is None:
            return Reply("Usage: silence <device> <30m|2h|1d> <reason…>", error=True)
        seconds = float(duration.group(1)) * UNITS[duration.group(2)]
        silence = await self.context.act(
            "silence",
            {"matchers": {"device": args[0]}, "seconds": seconds, "comment": " ".join(args[2:])},
            actor=who.actor,
            role=role,
        )
        return Reply(
            f"Silenced {args[0]} for {args[1]} (silence #{silence['id']})",
            [f"by {who.actor}: {silence['comment']}"],
            public=True,
        )

    async def _cmd_pending(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        found = await self.context.act("pending", {}, actor=who.actor, role=role)
        if not found["changes"] and not found["runs"]:
            return Reply("Nothing waits for approval")
        lines, buttons, diffs = [], [], []
        for change in found["changes"][:5]:
            lines.append(
                f"change #{change['id']} on {change['device']} by {change['created_by']}: "
                f"{len(change['diff'])} diff lines, {change['findings']} findings, "
                f"sha256 {change['sha256'][:12]}"
            )
            diffs.append(
                f"# change {change['id']} ({change['device']})\n" + "\n".join(change["diff"])
            )
            buttons += [
                Button(f"Approve #{change['id']}",
                       f"approve_change|{change['id']}|{change['sha256']}", "primary"),
                Button(f"Reject #{change['id']}", f"reject_change|{change['id']}", "danger"),
            ]  # fmt: skip
        for run in found["runs"][:5]:
            lines.append(
                f"run #{run['id']} of {run['playbook']} by {run['actor']}: {run['message']} "
                f"({run['changes']} changes)"
            )
            if run["diff"]:
                diffs.append(f"# run {run['id']} ({run['playbook']})\n" + "\n".join(run["diff"]))
            buttons += [
                Button(f"Approve run #{run['id']}",
                       f"approve_run|{run['id']}|{run['sha256'] or ''}", "primary"),
                Button(f"Reject run #{run['id']}", f"reject_run|{run['id']}", "danger"),
            ]  # fmt: skip
        return Reply("Waiting for approval", lines, code="\n".join(diffs) or None, buttons=buttons)

    async def _cmd_approve(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        return await self._decide("approve", who, role, args)

    async def _cmd_reject(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        return await self._decide("reject", who, role, args)

    async def _decide(self, verb: str, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if len(args) < 2 or args[0] not in ("change", "run") or not args[1].isdigit():
            return Reply(f"Usage: {verb} change|run <id>" + (" <sha256>" if verb == "approve" else ""),
                         error=True)  # fmt: skip
        action = f"{verb}_{args[0]}"
        payload: dict[str, Any] = {"id": int(args[1])}
        if verb == "approve":
            payload["sha256"] = args[2] if len(args) > 2 else None
        return await self._act(action, payload, who, role)

    async def _cmd_backup(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if not args:
            return Reply("Usage: backup <device|group>", error=True)
        done = await self.context.act("backup", {"devices": args}, actor=who.actor, role=role)
        lines = [f"changed: {', '.join(done['changed']) or 'none'}"]
        lines += [f"failed {device}: {error}" for device, error in done["failed"].items()]
        return Reply(f"Backed up {done['devices']} devices", lines, public=True,
                     error=bool(done["failed"]))  # fmt: skip

    async def _cmd_run(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if not args:
            return Reply("Usage: run <playbook> [key=value…] [--apply]", error=True)
        apply = "--apply" in args
        variables = dict(a.split("=", 1) for a in args[1:] if "=" in a)
        started = await self.context.act(
            "start_playbook",
            {"name": args[0], "variables": variables, "check": not apply},
            actor=who.actor,
            role=role,
        )
        mode = "applying (deploys wait for approval)" if apply else "check mode"
        return Reply(f"Started run #{started['id']} of {started['playbook']} ({mode})",
                     [f"by {who.actor}"], public=True)  # fmt: skip

    async def _cmd_ask(self, who: ChatUser, role: Role, args: list[str]) -> Reply:
        if not args:
            return Reply("Usage: ask <question>", error=True)
        question = " ".join(args)
        turn = await self.context.assist(
            [{"role": "user", "content": question}], actor=who.actor, role=role, stream=False
        )
        used = sorted({call.tool for call in turn.tool_calls})
        footer = [f"tools: {', '.join(used)}"] if used else []
        return Reply(f"Q: {question[:200]}", [turn.content, *footer])

    async def _tool(self, who: ChatUser, role: Role, name: str, arguments: dict[str, Any]) -> Any:
        done = await self.context.act(
            "tool", {"name": name, "arguments": arguments}, actor=who.actor, role=role
        )
        if not done["ok"]:
            raise ToolFailed(done["error"] or f"{name} failed")
        return done["result"]


class ToolFailed(GenosdError):
    """A tool the bot called reported an error."""


def _status_line(device: dict[str, Any]) -> str:
    cpu = device["cpu_percent"]
    line = f"{device['device']:<24} {device['status']:<8} {_uptime(device['uptime_seconds']):<10}"
    if cpu is not None:
        line += f" CPU {cpu:.0f}%"
    if device["error"] and device["status"] == "down":
        line += f"  {device['error']}"
    return line.rstrip()


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return ""
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d{rest // 3600}h" if days else f"{rest // 3600}h{rest % 3600 // 60}m"


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp)) + "Z"


def diff_size(diff: str) -> str:
    """`+added/-removed` lines of a unified diff."""
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return f"+{added}/-{removed}"


def _as_text(data: Any) -> str:
    if isinstance(data, list):
        return "\n".join(json.dumps(item, default=str) for item in data)
    return json.dumps(data, indent=2, default=str)
