"""Slack: slash commands and interactive buttons over HTTP, replies in Block Kit, notifications
through the Web API.

Every request must carry Slack's v0 signature (HMAC-SHA256 of `v0:timestamp:body` with the
app's signing secret, checked by slack_sdk's SignatureVerifier in constant time), a timestamp
within `max_age` (5 minutes) of now, and a signature not seen before (a replay is refused); the
body must be form-encoded, as Slack sends it. Replies longer than `reply_chars` continue in a
thread (with a bot token) or in further messages.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from plugins.chatops.access import ChatUser
from plugins.chatops.commands import Bot, Reply
from plugins.chatops.settings import ChatOpsSettings

log = logging.getLogger("genosd.plugin.chatops")
FORM = "application/x-www-form-urlencoded"
SECTION_CHARS = 2900  # Slack's limit is 3000 characters of text per section


class Refused(Exception):
    """A request that is not Slack's (or not any more): the HTTP status and why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SlackGate:
    """Checks that a request is Slack's: signature, age, not a replay, form-encoded."""

    def __init__(self, signing_secret: str, max_age: float):
        self.verifier = SignatureVerifier(signing_secret)
        self.max_age = max_age
        self._seen: dict[str, float] = {}

    def check(self, headers: Any, body: bytes, now: float | None = None) -> None:
        """Refused (with the status to answer) unless the request is fresh and Slack's."""
        now = time.time() if now is None else now
        content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != FORM:
            raise Refused(415, f"Slack sends {FORM}, not {content_type or 'nothing'}")
        stamp, signature = (
            headers.get("X-Slack-Request-Timestamp"),
            headers.get("X-Slack-Signature"),
        )
        if not stamp or not signature:
            raise Refused(401, "unsigned request")
        try:
            age = abs(now - int(stamp))
        except ValueError:
            raise Refused(401, "bad timestamp") from None
        if age > self.max_age:
            raise Refused(401, "stale request (timestamp outside the allowed window)")
        expected = self.verifier.generate_signature(timestamp=stamp, body=body)
        if expected is None or not hmac.compare_digest(expected.encode(), signature.encode()):
            raise Refused(401, "bad signature")
        for seen, at in list(self._seen.items()):
            if at < now - 2 * self.max_age:
                del self._seen[seen]
        if signature in self._seen:
            raise Refused(401, "replayed request")
        self._seen[signature] = now


def render(reply: Reply, chars: int) -> list[dict[str, Any]]:
    """A reply as Slack messages: Block Kit sections, the code split into blocks, buttons."""
    title = f":warning: *{reply.title}*" if reply.error else f"*{reply.title}*"
    text = "\n".join([title, *reply.lines])
    chunks = _chunks(reply.code, min(chars, SECTION_CHARS) - 8) if reply.code else []
    first: list[dict[str, Any]] = [_section(text[:SECTION_CHARS])]
    if chunks:
        first.append(_section(f"```{chunks[0]}```"))
    if reply.buttons:
        first.append({
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": b.label[:75]},
                 "action_id": f"genosd_{n}", "value": b.value[:2000],
                 **({"style": b.style} if b.style in ("primary", "danger") else {})}
                for n, b in enumerate(reply.buttons[:25])
            ],
        })  # fmt: skip
    kind = "in_channel" if reply.public else "ephemeral"
    messages = [{"response_type": kind, "text": reply.title, "blocks": first}]
    for number, chunk in enumerate(chunks[1:], start=2):
        messages.append({
            "response_type": kind, "text": f"{reply.title} ({number}/{len(chunks)})",
            "blocks": [_section(f"```{chunk}```")],
        })  # fmt: skip
    return messages


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunks(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` characters, cut at line ends where possible."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            pieces.append(current)
            current = ""
        current += line
    if current or not pieces:
        pieces.append(current)
    return pieces


class SlackAdapter:
    """The HTTP handlers and the outgoing side."""

    def __init__(self, settings: ChatOpsSettings, bot: Bot):
        self.settings = settings
        self.slack = settings.slack
        self.bot = bot
        secret = self.slack.signing_secret
        self.gate = SlackGate(secret.get_secret_value(), self.slack.max_age) if secret else None
        token = self.slack.bot_token.get_secret_value() if self.slack.bot_token else None
        self.client = AsyncWebClient(token=token, base_url=self.slack.api_url)
        self._session: aiohttp.ClientSession | None = None
        self._later: set[asyncio.Task[None]] = set()
        self.socket: SocketModeClient | None = None

    async def keep_socket(self) -> None:
        """Socket Mode: open the WebSocket to Slack if it is not open (a job calls this; the
        client reconnects by itself once open)."""
        if not (self.slack.enabled and self.slack.socket_mode and self.slack.app_token):
            return
        if self.socket is not None and not self.socket.closed:
            return
        self.socket = SocketModeClient(
            self.slack.app_token.get_secret_value(), logger=log, web_client=self.client
        )
        self.socket.socket_mode_request_listeners.append(self._socket_request)
        await self.socket.connect()

    async def _socket_request(self, client: Any, request: SocketModeRequest) -> None:
        """A command or click over the WebSocket: acknowledged with the answer (within 3 s)."""
        payload = request.payload
        if request.type == "slash_commands":
            who = ChatUser(
                "slack", payload.get("team_id", ""), payload.get("channel_id", ""),
                payload.get("user_id", ""), payload.get("user_name", ""),
            )  # fmt: skip
            work = self.bot.command(who, payload.get("text", ""))
            answer = await self._within(work, payload.get("response_url", ""), who.channel)
            body = (
                render(answer, self.settings.reply_chars)[0]
                if answer is not None
                else {"response_type": "ephemeral", "text": "Working on it…"}
            )
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id, payload=body)
            )
        elif request.type == "interactive" and payload.get("type") == "block_actions":
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id)
            )
            await self._click(payload)
        else:
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=request.envelope_id)
            )

    async def close(self) -> None:
        """Finish what is being answered and close the HTTP session."""
        if self.socket is not None:
            await self.socket.close()
        if self._later:
            await asyncio.wait(self._later, timeout=10)
        if self._session is not None:
            await self._session.close()

    async def _form(self, request: web.Request) -> dict[str, str]:
        if not self.slack.enabled or self.gate is None:
            raise Refused(404, "Slack is not enabled (plugins.chatops.slack)")
        body = await request.content.read(1 << 20)
        try:
            self.gate.check(request.headers, body)
        except Refused as exc:
            log.warning("slack: refused a request from %s: %s", request.remote, exc.reason)
            raise
        return dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))

    async def commands(self, request: web.Request) -> web.StreamResponse:
        """A slash command."""
        try:
            form = await self._form(request)
        except Refused as exc:
            return refusal(exc)
        who = ChatUser(
            "slack", form.get("team_id", ""), form.get("channel_id", ""),
            form.get("user_id", ""), form.get("user_name", ""),
        )  # fmt: skip
        work = self.bot.command(who, form.get("text", ""))
        answer = await self._within(work, form.get("response_url", ""), form.get("channel_id"))
        if answer is None:
            return web.json_response({"response_type": "ephemeral", "text": "Working on it…"})
        first, *rest = render(answer, self.settings.reply_chars)
        if rest:
            self._spawn(self._continue(rest, form.get("response_url", ""), form.get("channel_id")))
        return web.json_response(first)

    async def interactions(self, request: web.Request) -> web.StreamResponse:
        """A button click (block_actions): answered through the message's response_url."""
        try:
            form = await self._form(request)
        except Refused as exc:
            return refusal(exc)
        try:
            payload = json.loads(form.get("payload", ""))
        except ValueError:
            return refusal(Refused(400, "not a block_actions payload"))
        if not await self._click(payload):
            return refusal(Refused(400, "not a block_actions payload"))
        return web.Response(status=200)

    async def _click(self, payload: Any) -> bool:
        """Start answering a block_actions payload (over HTTP or the WebSocket); False when it
        is not one."""
        try:
            action = payload["actions"][0]
            user, url = payload["user"], payload.get("response_url", "")
            who = ChatUser(
                "slack", (payload.get("team") or {}).get("id", ""),
                (payload.get("channel") or {}).get("id", ""), user.get("id", ""),
                user.get("username") or user.get("name", ""),
            )  # fmt: skip
        except (KeyError, IndexError, TypeError, AttributeError):
            return False

        async def click() -> None:
            reply = await self.bot.button(who, str(action.get("value", "")))
            await self._continue(render(reply, self.settings.reply_chars), url, who.channel)

        self._spawn(click())
        return True

    async def _within(self, work: Awaitable[Reply], url: str, channel: str | None) -> Reply | None:
        """The reply if it comes within `answer_within`; else None, and it is posted later."""
        task: asyncio.Task[Reply] = asyncio.ensure_future(work)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.settings.answer_within)
        except TimeoutError:

            async def later() -> None:
                reply = await task
                await self._continue(render(reply, self.settings.reply_chars), url, channel)

            self._spawn(later())
            return None

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(self._logged(work))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _logged(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:  # a reply that cannot be posted is logged, never raised at Slack
            log.exception("slack: could not post a reply")

    async def _continue(
        self, messages: list[dict[str, Any]], url: str, channel: str | None
    ) -> None:
        """Post messages: as a thread in the channel with a bot token, else to response_url."""
        if self.slack.bot_token and channel and len(messages) > 1:
            first = await self.client.chat_postMessage(
                channel=channel, text=messages[0]["text"], blocks=messages[0]["blocks"]
            )
            for message in messages[1:]:
                await self.client.chat_postMessage(
                    channel=channel, thread_ts=first["ts"], text=message["text"],
                    blocks=message["blocks"],
                )  # fmt: skip
            return
        for message in messages:
            await self._post_response(url, {**message, "replace_original": False})

    async def _post_response(self, url: str, message: dict[str, Any]) -> None:
        if not self._trusted(url):
            log.warning("slack: not posting to an unexpected response_url host: %s", url[:80])
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(
            url, json=message, timeout=aiohttp.ClientTimeout(total=10)
        ) as r:
            if r.status >= 300:
                raise RuntimeError(f"response_url answered HTTP {r.status}")

    def _trusted(self, url: str) -> bool:
        """Replies go only to Slack's hooks host, or the configured API's own host."""
        parsed, api = urllib.parse.urlsplit(url), urllib.parse.urlsplit(self.slack.api_url)
        if parsed.scheme == "https" and parsed.hostname == "hooks.slack.com":
            return True
        return (parsed.scheme, parsed.netloc) == (api.scheme, api.netloc)

    async def notify(self, reply: Reply) -> None:
        """Post a notification to the configured channel (raises when Slack refuses it: the
        notification queue retries)."""
        if not self.slack.enabled or not self.slack.bot_token or not self.slack.channel:
            raise RuntimeError("Slack notifications need enabled, bot_token and channel")
        messages = render(reply, self.settings.reply_chars)
        first = await self.client.chat_postMessage(
            channel=self.slack.channel, text=messages[0]["text"], blocks=messages[0]["blocks"]
        )
        for message in messages[1:]:
            await self.client.chat_postMessage(
                channel=self.slack.channel, thread_ts=first["ts"], text=message["text"],
                blocks=message["blocks"],
            )  # fmt: skip


def refusal(exc: Refused) -> web.Response:
    """The answer to a request that is refused: its status and why, in genosd's error shape."""
    codes = {401: "unauthorized", 404: "not_found", 415: "unsupported_media_type"}
    return web.json_response(
        {"error": {"code": codes.get(exc.status, "invalid_request"), "message": exc.reason,
                   "details": None}},
        status=exc.status,
    )  # fmt: skip
