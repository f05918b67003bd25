"""Mattermost: slash commands (checked by their token) and interactive message buttons,
notifications through an incoming webhook.

Mattermost does not sign the requests its buttons send, so each button's context carries an
HMAC of its action under the plugin's action key; a click whose context was not made here (or
was altered) is refused. The chat user's role comes from the grants, as for Slack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.parse
from typing import Any

import aiohttp
from aiohttp import web

from plugins.chatops.access import ChatUser
from plugins.chatops.commands import Bot, Reply
from plugins.chatops.settings import ChatOpsSettings
from plugins.chatops.slack import Refused, refusal

log = logging.getLogger("genosd.plugin.chatops")
ACTIONS_PATH = "/chatops/mattermost/actions"


def render(reply: Reply, chars: int, sign: Any, callback: str) -> dict[str, Any]:
    """A reply as a Mattermost message: Markdown text, the code as a fenced block (cut at
    `chars`, saying so), buttons as an attachment's actions whose contexts are signed."""
    title = f"**:warning: {reply.title}**" if reply.error else f"**{reply.title}**"
    parts = [title, *reply.lines]
    if reply.code:
        code = reply.code
        if len(code) > chars:
            code = code[:chars] + f"\n… ({len(reply.code) - chars} more characters)"
        parts.append(f"```\n{code}\n```")
    message: dict[str, Any] = {
        "response_type": "in_channel" if reply.public else "ephemeral",
        "text": "\n".join(parts),
    }
    if reply.buttons:
        message["attachments"] = [{
            "text": "",
            "actions": [
                {"id": f"genosd{n}", "name": b.label[:50], "type": "button",
                 **({"style": b.style} if b.style in ("primary", "danger") else {}),
                 "integration": {"url": callback,
                                 "context": {"value": b.value, "sig": sign(b.value)}}}
                for n, b in enumerate(reply.buttons[:10])
            ],
        }]  # fmt: skip
    return message


class MattermostAdapter:
    """The HTTP handlers and the outgoing side."""

    def __init__(self, settings: ChatOpsSettings, bot: Bot, action_key: bytes):
        self.settings = settings
        self.mm = settings.mattermost
        self.bot = bot
        self.key = action_key
        self.callback = settings.public_url.rstrip("/") + ACTIONS_PATH
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    def sign(self, value: str) -> str:
        """The HMAC a button's context carries."""
        return hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    def _render(self, reply: Reply) -> dict[str, Any]:
        return render(reply, self.settings.reply_chars, self.sign, self.callback)

    def _enabled(self) -> None:
        if not self.mm.enabled or not self.mm.tokens:
            raise Refused(404, "Mattermost is not enabled (plugins.chatops.mattermost)")

    async def commands(self, request: web.Request) -> web.StreamResponse:
        """A slash command: the token must be one of the configured ones."""
        try:
            return await self._command(request)
        except Refused as exc:
            return refusal(exc)

    async def actions(self, request: web.Request) -> web.StreamResponse:
        """A button click: its context must carry our signature."""
        try:
            return await self._action(request)
        except Refused as exc:
            return refusal(exc)

    async def _command(self, request: web.Request) -> web.StreamResponse:
        self._enabled()
        body = await request.content.read(1 << 20)
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        given = form.get("token") or request.headers.get("Authorization", "").removeprefix("Token ")
        if not given or not any(
            hmac.compare_digest(given.encode(), t.get_secret_value().encode())
            for t in self.mm.tokens
        ):
            log.warning("mattermost: refused a slash command with a wrong token")
            raise Refused(401, "wrong slash command token")
        who = ChatUser(
            "mattermost", form.get("team_id", ""), form.get("channel_id", ""),
            form.get("user_id", ""), form.get("user_name", ""),
        )  # fmt: skip
        reply = await self.bot.command(who, form.get("text", ""))
        return web.json_response(self._render(reply))

    async def _action(self, request: web.Request) -> web.StreamResponse:
        self._enabled()
        try:
            payload = json.loads(await request.content.read(1 << 20))
            context = payload["context"]
            value, signature = str(context["value"]), str(context["sig"])
        except (ValueError, KeyError, TypeError):
            raise Refused(400, "not an interactive message action") from None
        if not hmac.compare_digest(self.sign(value), signature):
            log.warning("mattermost: refused a button whose context genosd did not sign")
            raise Refused(401, "unsigned action")
        who = ChatUser(
            "mattermost", str(payload.get("team_id", "")), str(payload.get("channel_id", "")),
            str(payload.get("user_id", "")), str(payload.get("user_name", "")),
        )  # fmt: skip
        reply = await self.bot.button(who, value)
        rendered = self._render(reply)
        if reply.error:
            return web.json_response({"ephemeral_text": rendered["text"]})
        return web.json_response({"update": {"message": rendered["text"]}})

    async def notify(self, reply: Reply) -> None:
        """Post a notification through the incoming webhook (raises when refused: retried)."""
        if not self.mm.enabled or self.mm.webhook_url is None:
            raise RuntimeError("Mattermost notifications need enabled and webhook_url")
        message = self._render(reply)
        message.pop("response_type", None)
        if self.mm.channel:
            message["channel"] = self.mm.channel
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self.mm.webhook_url.get_secret_value()
        async with self._session.post(
            url, json=message, timeout=aiohttp.ClientTimeout(total=10)
        ) as r:
            if r.status >= 300:
                raise RuntimeError(f"Mattermost webhook answered HTTP {r.status}")
