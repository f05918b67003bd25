"""The ChatOps bot: Slack and Mattermost slash commands and buttons over genosd's workflows,
and notifications (incidents, runs waiting for approval or finished, config changes) to their
channels. Routes are served under /chatops/slack/… and /chatops/mattermost/… (docs/chatops.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from genosd.plugin import (
    Api,
    Job,
    LlmUnavailable,
    Notifier,
    PluginContext,
    Role,
    Sink,
    hookimpl,
)
from plugins.chatops.commands import Bot, Button, Reply, diff_size
from plugins.chatops.mattermost import MattermostAdapter
from plugins.chatops.settings import ChatOpsSettings
from plugins.chatops.slack import SlackAdapter

__version__ = "1.0.0"


class ChatOps:
    """The plugin's shared parts: the bot, both platforms, what was already announced."""

    def __init__(self, settings: ChatOpsSettings, context: PluginContext):
        self.settings = settings
        self.context = context
        self.bot = Bot(settings, context)
        self.slack = SlackAdapter(settings, self.bot)
        self.mattermost = MattermostAdapter(settings, self.bot, _action_key(settings))
        self.last_commit: str | None = None  # the newest config commit announced

    def targets(self) -> list[Any]:
        """The platforms that can post notifications."""
        found: list[Any] = []
        if (
            self.settings.slack.enabled
            and self.settings.slack.bot_token
            and self.settings.slack.channel
        ):
            found.append(self.slack)
        if self.settings.mattermost.enabled and self.settings.mattermost.webhook_url:
            found.append(self.mattermost)
        return found

    async def announce(self, reply: Reply) -> None:
        """Post to every platform now (best effort: runs and config changes)."""
        for target in self.targets():
            try:
                await target.notify(reply)
            except Exception as exc:  # one platform down must not stop the other
                self.context.log.warning("chatops: could not post %r: %s", reply.title, exc)

    async def on_run(self, topic: str, data: dict[str, Any]) -> None:
        """A playbook run waits for approval (with buttons bound to its gate) or finished."""
        if not self.settings.notify_runs or data.get("kind") != "playbook":
            return
        status, run = data.get("status"), data.get("run")
        if status == "waiting_approval":
            gate = data.get("gate") or {}
            waiting = await self.context.act("pending", {}, actor="genosd", role=Role.viewer)
            diff: list[str] = next((r["diff"] for r in waiting["runs"] if r["id"] == run), [])
            await self.announce(Reply(
                f"Run #{run} of {data.get('playbook')} waits for approval",
                [gate.get("message", ""), f"started by {data.get('actor')}; "
                 f"{len(gate.get('changes', []))} changes, sha256 {str(gate.get('sha256', ''))[:12]}"],
                code="\n".join(diff) or None,
                buttons=[Button("Approve", f"approve_run|{run}|{gate.get('sha256', '')}", "primary"),
                         Button("Reject", f"reject_run|{run}", "danger")],
                public=True,
            ))  # fmt: skip
        elif status == "finished":
            result = data.get("result")
            await self.announce(Reply(
                f"Run #{run} of {data.get('playbook')} finished: {result}",
                [f"started by {data.get('actor')}" + (" (check mode)" if data.get("check") else "")]
                + ([f"stopped because {data['stopped_because']}"] if data.get("stopped_because") else []),
                public=True, error=result not in ("succeeded", "ok", "success"),
            ))  # fmt: skip

    async def config_changes(self) -> None:
        """Announce config changes the backups found since the last look."""
        if not self.settings.notify_config_changes or not self.targets():
            return
        found = self.context.config_changes(self.last_commit, 50)
        if self.last_commit is None:  # the first look: start from now, not from history
            self.last_commit = found[-1].commit if found else None
            return
        for change in found:
            self.last_commit = change.commit
            lines = [f"{change.author}: {change.message.strip()[:200]}"]
            if self.settings.summarise_changes:
                lines += await self._summary(change.device, change.diff)
            lines += await self._compliance(change.device)
            await self.announce(Reply(
                f"Config change on {change.device} ({diff_size(change.diff)})",
                lines, code=change.diff or None, public=True,
            ))  # fmt: skip

    async def _compliance(self, device: str) -> list[str]:
        """The device's compliance now against its previous check (the backup checks it)."""
        done = await self.context.act(
            "tool", {"name": "compliance", "arguments": {"device": device}},
            actor="genosd", role=Role.viewer,
        )  # fmt: skip
        items = (done.get("result") or {}).get("items", []) if done.get("ok") else []
        if not items or items[0].get("score") is None:
            return []
        item = items[0]
        history = item.get("history") or []
        line = f"Compliance {item['score']:.0f}"
        if len(history) >= 2:
            before = history[-2][1]
            line = f"Compliance {before:.0f} → {item['score']:.0f} ({item['score'] - before:+.0f})"
        if item.get("newly_failing"):
            line += f"; newly failing: {', '.join(item['newly_failing'])}"
        if item.get("fixed"):
            line += f"; fixed: {', '.join(item['fixed'])}"
        return [line]

    async def _summary(self, device: str, diff: str) -> list[str]:
        platform = next((d.platform for d in self.context.devices() if d.name == device), "")
        try:
            prompt = await self.context.prompt(
                "diff-summary", {"device": device, "platform": platform or "unknown", "diff": diff}
            )
            answer = await self.context.ask(
                prompt.kind, prompt.messages, schema=prompt.output_schema
            )
            data = json.loads(answer.content)
        except (LlmUnavailable, ValueError) as exc:
            return [f"(no summary: {exc})"]
        return [f"Summary: {data.get('summary', '')}", f"Risk: {data.get('risk', '?')}/5"]


def _action_key(settings: ChatOpsSettings) -> bytes:
    """The key that signs buttons' contexts: the configured one, else one derived from the
    platforms' secrets (stable across restarts, unknown to anyone without them)."""
    if settings.action_secret is not None:
        return settings.action_secret.get_secret_value().encode()
    material = [t.get_secret_value() for t in settings.mattermost.tokens]
    if settings.slack.signing_secret is not None:
        material.append(settings.slack.signing_secret.get_secret_value())
    return hashlib.sha256(("genosd-chatops\0" + "\0".join(material)).encode()).digest()


def incident_reply(payload: dict[str, Any]) -> Reply:
    """An incident notification as a chat message, with the buttons its state allows."""
    incident, event = payload.get("incident", {}), payload.get("event", "")
    number = incident.get("id")
    lines = [f"{a.get('severity')}: {a.get('summary')}" for a in payload.get("alerts", [])][:10]
    labels = incident.get("labels", {})
    if labels.get("device"):
        lines.insert(
            0, f"device {labels['device']}" + (f" ({labels['site']})" if labels.get("site") else "")
        )
    buttons = []
    if incident.get("status") == "open":
        buttons.append(Button("Acknowledge", f"incident_ack|{number}", "primary"))
    if incident.get("status") in ("open", "acknowledged"):
        buttons.append(Button("Resolve", f"incident_resolve|{number}"))
    who = (
        incident.get("acknowledged_by") if event == "acknowledged" else incident.get("resolved_by")
    )
    suffix = f" by {who}" if event in ("acknowledged", "resolved") and who else ""
    return Reply(
        f"[{str(incident.get('severity', '')).upper()}] incident #{number} {event}{suffix}: "
        f"{incident.get('title', '')}",
        lines, buttons=buttons, public=True, error=event in ("opened", "escalated"),
    )  # fmt: skip


def report_reply(payload: dict[str, Any]) -> Reply:
    """A scheduled report as a chat message: its summary, and where the files are."""
    summary = payload.get("summary") or {}
    lines = [f"{str(k).replace('_', ' ')}: {v}" for k, v in summary.items()][:12]
    lines += [f"file: {f}" for f in payload.get("files", [])][:4]
    csv_text = str(payload.get("csv") or "")
    head = "\n".join(csv_text.splitlines()[:15])
    return Reply(
        f"report: {payload.get('title', payload.get('kind', ''))}",
        lines,
        code=head or None,
        public=True,
    )


def _chatops(config: ChatOpsSettings, context: PluginContext) -> ChatOps:
    found: ChatOps = context.get_or_create("chatops", lambda: ChatOps(config, context))
    return found


@hookimpl
def genosd_config_model() -> type[ChatOpsSettings]:
    """plugins.chatops."""
    return ChatOpsSettings


@hookimpl
def genosd_routes(config: ChatOpsSettings, context: PluginContext) -> Api:
    """The platforms' request URLs (authenticated by their signatures and tokens, not API keys)."""
    chatops = _chatops(config, context)
    api = Api("genosd chatops", __version__)

    def route(path: str, handler: Any, summary: str, signed_by: str) -> None:
        async def handle(request: web.Request) -> web.StreamResponse:
            response: web.StreamResponse = await handler(request)
            return response

        handle.__doc__ = summary
        api.route("POST", path, tag="chatops", role=None, signed_by=signed_by,
                  media_types=("application/x-www-form-urlencoded",))(handle)  # fmt: skip

    slack, mattermost = chatops.slack, chatops.mattermost
    signed = "Slack request signing (v0 HMAC-SHA256 with the app's signing secret)"
    route("/slack/commands", slack.commands, "Slack slash commands", signed)
    route("/slack/interactions", slack.interactions, "Slack buttons", signed)
    route("/mattermost/commands", mattermost.commands, "Mattermost slash commands",
          "the slash command's token")  # fmt: skip
    route("/mattermost/actions", mattermost.actions, "Mattermost buttons",
          "an HMAC genosd put in the button's context")  # fmt: skip
    return api


@hookimpl
def genosd_notifiers(config: ChatOpsSettings, context: PluginContext) -> list[Notifier]:
    """Incident notifications to the enabled platforms' channels (queued and retried by genosd)."""
    chatops = _chatops(config, context)
    found = []
    for target in chatops.targets():
        name = "slack" if target is chatops.slack else "mattermost"

        async def send(payload: dict[str, Any], target: Any = target) -> None:
            is_report = payload.get("event") == "report"
            await target.notify(report_reply(payload) if is_report else incident_reply(payload))

        found.append(Notifier(name, send))
    return found


@hookimpl
def genosd_sinks(config: ChatOpsSettings, context: PluginContext) -> list[Sink]:
    """Runs waiting for approval or finished."""
    chatops = _chatops(config, context)
    return [Sink("runs", topics=("run",), on_event=chatops.on_run)]


@hookimpl
def genosd_jobs(config: ChatOpsSettings, context: PluginContext) -> list[Job]:
    """Config changes found by backups."""
    chatops = _chatops(config, context)
    jobs = [Job("config_changes", chatops.config_changes, every=config.change_poll, quiet=True)]
    if config.slack.socket_mode:
        jobs.append(
            Job("slack_socket", chatops.slack.keep_socket, every=30.0, quiet=True, at_start=True)
        )
    return jobs
