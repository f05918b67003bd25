"""ChatOps against the real endpoints of a running daemon: Slack's request signing (valid, bad
signature, stale, replayed, wrong content type), grants (deny by default), commands; Slack's
outgoing calls (chat.postMessage, response_url) and Mattermost's webhook captured by a local
server that checks them; an incident notified to Slack and acknowledged with its button; a paused
playbook approved from Mattermost (not by its starter: four-eyes) goes on and deploys."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from genosd.alerts.engine import Alert, Transition
from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from tests.api.conftest import write_setup
from tests.api.test_playbooks_api import GATED
from tests.ssh_lab import write_setup as write_lab_setup

SECRET = "slack-signing-secret-for-tests"
MM_TOKEN = "mattermost-slash-token"


class FakeChat:
    """Slack's Web API, response URLs and a Mattermost incoming webhook on one local server."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []  # chat.postMessage calls
        self.responses: list[dict[str, Any]] = []  # response_url posts
        self.webhook: list[dict[str, Any]] = []  # Mattermost incoming webhook posts
        self.tokens: list[str] = []

    async def post_message(self, request: web.Request) -> web.Response:
        self.tokens.append(request.headers.get("Authorization", ""))
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(urllib.parse.parse_qsl((await request.read()).decode()))
            if isinstance(body.get("blocks"), str):
                body["blocks"] = json.loads(body["blocks"])
        assert body.get("channel"), body
        self.posted.append(body)
        return web.json_response(
            {"ok": True, "ts": f"{len(self.posted)}.000", "channel": body["channel"]}
        )

    async def response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def hook(self, request: web.Request) -> web.Response:
        self.webhook.append(await request.json())
        return web.Response(text="ok")


@pytest.fixture
async def chat() -> AsyncIterator[tuple[FakeChat, str]]:
    fake = FakeChat()
    app = web.Application()
    app.router.add_post("/api/chat.postMessage", fake.post_message)
    app.router.add_post("/response/{id}", fake.response)
    app.router.add_post("/hooks/mm", fake.hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _chatops(base: str, extra_grants: str = "") -> str:
    return f"""plugins:
  chatops:
    slack: {{enabled: true, api_url: '{base}/api/', channel: C-NOC}}
    mattermost: {{enabled: true, channel: noc}}
    access:
      - {{platform: slack, team: T1, channel: C-NOC, user: U-OPS, role: operator}}
      - {{platform: slack, team: T1, user: '*', role: viewer, commands: [status, incidents]}}
      - {{platform: mattermost, user: '*', role: operator}}
{extra_grants}"""


def _signed(body: str, stamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _command(text: str, user: str = "U-OPS", channel: str = "C-NOC", url: str = "") -> str:
    return urllib.parse.urlencode({
        "team_id": "T1", "channel_id": channel, "user_id": user, "user_name": user.lower(),
        "command": "/genosd", "text": text, "response_url": url,
    })  # fmt: skip


async def _until(what: str, check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_slack_signing_grants_commands_and_an_incident_acknowledged_from_its_button(
    tmp_path: Path, snmpd, chat
):
    fake, base = chat
    config = write_setup(
        tmp_path,
        snmpd,
        _chatops(base),
        secrets={
            "plugins__chatops__slack__signing_secret": SECRET,
            "plugins__chatops__slack__bot_token": "xoxb-test-token",
            "plugins__chatops__mattermost__tokens": f"other-command-token,{MM_TOKEN}\n",
        },
    )
    runtime = build_runtime(Sources(config))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    try:
        path = "/chatops/slack/commands"
        body = _command("status")
        ok = await client.post(path, data=body, headers=_signed(body))
        assert ok.status == 200, await ok.text()
        answer = await ok.json()
        assert answer["response_type"] == "ephemeral"
        text = json.dumps(answer["blocks"])
        assert "sw1" in text and "r1" in text and "up" in text
        # the same signed request again: a replay
        body = _command("status sw1")
        headers = _signed(body)
        assert (await client.post(path, data=body, headers=headers)).status == 200
        again = await client.post(path, data=body, headers=headers)
        assert again.status == 401 and "replayed" in await again.text()
        # bad signature, stale timestamp, unsigned, wrong content type
        forged = await client.post(path, data=body, headers=_signed(body, secret="guess"))
        assert forged.status == 401 and "bad signature" in await forged.text()
        stale = await client.post(path, data=body, headers=_signed(body, int(time.time()) - 600))
        assert stale.status == 401 and "stale" in await stale.text()
        unsigned = await client.post(
            path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert unsigned.status == 401
        as_json = {**_signed(body), "Content-Type": "application/json"}
        assert (await client.post(path, data=body, headers=as_json)).status == 415
        # deny by default: a viewer grant covers status, not backup; another team gets nothing
        body = _command("backup sw1", user="U-SOMEONE")
        refused = await (await client.post(path, data=body, headers=_signed(body))).json()
        assert "Not allowed" in json.dumps(refused)
        body = urllib.parse.urlencode({"team_id": "T2", "channel_id": "C-NOC", "user_id": "U-OPS",
                                       "user_name": "ops", "text": "status"})  # fmt: skip
        stranger = await (await client.post(path, data=body, headers=_signed(body))).json()
        assert "Not allowed" in json.dumps(stranger)
        # an incident opens: Slack gets it in the channel with an Acknowledge button
        now = time.time()
        alert = Alert("device_down", "device_down|device=r1", "critical",
                      {"alertname": "device_down", "severity": "critical", "device": "r1"},
                      "r1 does not answer", None, now, now)  # fmt: skip
        runtime.alerts._submit([Transition("fired", alert, now)])
        posted = await _until("the incident in Slack", lambda: fake.posted)
        message = posted[0]
        assert message["channel"] == "C-NOC" and fake.tokens[0] == "Bearer xoxb-test-token"
        assert "incident #1 opened" in message["text"] and "r1 does not answer" in json.dumps(
            message
        )
        buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        ack = next(b for b in buttons if b["text"]["text"] == "Acknowledge")
        # the on-call engineer clicks it
        payload = json.dumps({
            "type": "block_actions", "user": {"id": "U-OPS", "username": "ops"},
            "team": {"id": "T1"}, "channel": {"id": "C-NOC"},
            "response_url": f"{base}/response/1",
            "actions": [{"action_id": ack["action_id"], "value": ack["value"]}],
        })  # fmt: skip
        click = urllib.parse.urlencode({"payload": payload})
        clicked = await client.post(
            "/chatops/slack/interactions", data=click, headers=_signed(click)
        )
        assert clicked.status == 200
        reply = await _until("the click's answer", lambda: fake.responses)
        assert "incident ack #1: acknowledged" in json.dumps(reply[0])
        incident = await runtime.core.db.run(
            lambda db: db.execute("SELECT status, acknowledged_by FROM incidents").fetchone()
        )
        assert incident == ("acknowledged", "slack:ops")
        # the acknowledgement is notified too, with who did it
        await _until("the acknowledgement in Slack", lambda: len(fake.posted) >= 2)
        assert "acknowledged by slack:ops" in fake.posted[1]["text"]
        # a viewer's click on Resolve is refused
        payload = payload.replace("U-OPS", "U-VIEWER").replace("incident_ack", "incident_resolve")
        click = urllib.parse.urlencode({"payload": payload})
        await client.post("/chatops/slack/interactions", data=click, headers=_signed(click))
        await _until("the refusal", lambda: len(fake.responses) >= 2)
        assert "Not allowed" in json.dumps(fake.responses[1])
        # Mattermost: a wrong token is refused; the right one lists the incident
        mm = "/chatops/mattermost/commands"
        form = {"token": "wrong", "team_id": "t", "channel_id": "c", "user_id": "u",
                "user_name": "bob", "text": "incidents"}  # fmt: skip
        assert (await client.post(mm, data=form)).status == 401
        listed = await (await client.post(mm, data={**form, "token": MM_TOKEN})).json()
        assert "#1 [critical] acknowledged" in listed["text"]
        audit = await runtime.core.db.run(
            lambda db: db.execute(
                "SELECT actor, action FROM audit WHERE action LIKE 'incident_%'"
            ).fetchall()
        )
        assert audit == [("slack:ops", "incident_acknowledged")]
    finally:
        await client.close()


async def test_a_paused_playbook_approved_from_mattermost_goes_on(tmp_path: Path, ssh_lab, chat):
    fake, base = chat
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "gated.yaml").write_text(GATED)
    config, secrets = write_lab_setup(
        tmp_path,
        ssh_lab.ports,
        settings=f"playbooks_dir: {directory}\n"
        "ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n"
        + _chatops(base),
        configs=", four_eyes: true",
    )  # fmt: skip
    (secrets / "plugins__chatops__mattermost__tokens").write_text(MM_TOKEN)
    (secrets / "plugins__chatops__mattermost__webhook_url").write_text(f"{base}/hooks/mm")
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    mm = "/chatops/mattermost/commands"

    def form(user: str, text: str) -> dict[str, str]:
        return {"token": MM_TOKEN, "team_id": "t", "channel_id": "c", "user_id": f"id-{user}",
                "user_name": user, "text": text}  # fmt: skip

    try:
        started = await (await client.post(mm, data=form("alice", "run gated --apply"))).json()
        assert "Started run #1 of gated (applying" in started["text"], started
        assert started["response_type"] == "in_channel"
        # the run stops at its gate; the channel is told, with buttons bound to the gate's hash
        waiting = await _until(
            "the gate in Mattermost",
            lambda: [m for m in fake.webhook if "waits for approval" in m["text"]],
        )
        message = waiting[0]
        assert message["channel"] == "noc" and "+ntp server 10.255.255.1" in message["text"]
        actions = message["attachments"][0]["actions"]
        approve = next(a for a in actions if a["name"] == "Approve")
        assert approve["integration"]["url"] == "http://127.0.0.1:8470/chatops/mattermost/actions"
        context = approve["integration"]["context"]
        sha = context["value"].split("|")[2]
        assert len(sha) == 64
        # `pending` lists it too
        pending = await (await client.post(mm, data=form("bob", "pending"))).json()
        assert "run #1 of gated by mattermost:alice" in pending["text"]

        async def click(user: str, ctx: dict[str, str]) -> tuple[int, dict]:
            response = await client.post(
                "/chatops/mattermost/actions",
                json={"user_id": f"id-{user}", "user_name": user, "team_id": "t",
                      "channel_id": "c", "context": ctx},
            )  # fmt: skip
            return response.status, await response.json()

        # a context genosd did not sign is refused; the run's starter cannot approve (four-eyes)
        status, _ = await click(
            "bob", {**context, "value": context["value"].replace("1|", "2|", 1)}
        )
        assert status == 401
        status, own = await click("alice", context)
        assert status == 200 and "four_eyes" in own["ephemeral_text"]
        assert "ntp server 10.255.255.1" not in ssh_lab.sims["r1"].device.show_running_config()
        # someone else approves: the run goes on and deploys
        status, done = await click("bob", context)
        assert status == 200 and "approve run #1" in done["update"]["message"], done
        finished = await _until(
            "the run to finish", lambda: [m for m in fake.webhook if "finished" in m["text"]], 60
        )
        assert "Run #1 of gated finished: ok" in finished[0]["text"], finished[0]["text"]
        assert "ntp server 10.255.255.1" in ssh_lab.sims["r1"].device.show_running_config()
        audit = await runtime.core.db.run(
            lambda db: db.execute(
                "SELECT actor FROM audit WHERE action = 'playbook_approve'"
            ).fetchall()
        )
        assert audit == [("mattermost:bob",)]
    finally:
        await client.close()


async def test_a_config_change_is_announced_with_an_llm_summary_and_the_compliance_delta(
    tmp_path: Path, ssh_lab, chat, fake_ollama
):
    fake, base = chat
    fake_ollama.responder = lambda body: json.dumps(
        {"summary": "adds an NTP server", "risk": 2, "reasons": ["a new time source"]}
    )
    config, secrets = write_lab_setup(
        tmp_path,
        ssh_lab.ports,
        settings="ssh: {backup_schedule: '', facts_interval: 0, host_key_policy: accept-new}\n"
        f"llm: {{url: '{fake_ollama.url}', timeout: 5, models: {{summary: [qwen2.5-coder:7b]}}}}\n"
        + _chatops(base).replace("    access:", "    summarise_changes: true\n    access:"),
    )
    (secrets / "plugins__chatops__mattermost__tokens").write_text(MM_TOKEN)
    (secrets / "plugins__chatops__mattermost__webhook_url").write_text(f"{base}/hooks/mm")
    runtime = build_runtime(Sources(config, None, (secrets,)))
    client = TestClient(TestServer(create_app(runtime), host="127.0.0.1"))
    await client.start_server()
    mm = "/chatops/mattermost/commands"
    form = {"token": MM_TOKEN, "team_id": "t", "channel_id": "c", "user_id": "u",
            "user_name": "ops", "text": "backup r1"}  # fmt: skip
    try:
        first = await (await client.post(mm, data=form)).json()
        assert "Backed up 1 devices" in first["text"], first
        await runtime.jobs.run_now("chatops.config_changes")  # the first look starts from now
        assert not [m for m in fake.webhook if "Config change" in m["text"]]
        # someone adds an NTP server by hand; the next backup finds it
        ssh_lab.sims["r1"].device.config_command(None, "ntp server 10.9.9.9")
        again = await (await client.post(mm, data=form)).json()
        assert "changed: r1" in again["text"], again
        await runtime.jobs.run_now("chatops.config_changes")
        (message,) = [m for m in fake.webhook if "Config change" in m["text"]]
        text = message["text"]
        assert "Config change on r1 (+1/-0)" in text and "+ntp server 10.9.9.9" in text
        assert "Summary: adds an NTP server" in text and "Risk: 2/5" in text
        assert "Compliance " in text and "→" in text, text
        summary_request = next(b for p, b in fake_ollama.requests if p == "/api/chat")
        assert "ntp server 10.9.9.9" in json.dumps(summary_request)
    finally:
        await client.close()


async def test_slack_socket_mode_takes_a_command_over_the_websocket(tmp_path: Path, snmpd):
    """Slack's side of Socket Mode stands in locally: apps.connections.open hands out a
    WebSocket URL; over it come `hello`, then a slash command envelope; genosd acknowledges the
    envelope with its answer."""
    acks: list[dict[str, Any]] = []
    opened: list[str] = []

    async def connections_open(request: web.Request) -> web.Response:
        opened.append(request.headers.get("Authorization", ""))
        return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{port}/link"})

    async def link(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        await ws.send_json({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {"team_id": "T1", "channel_id": "C-NOC", "user_id": "U-OPS",
                        "user_name": "ops", "command": "/genosd", "text": "status"},
        })  # fmt: skip
        async for message in ws:
            if message.type.name == "TEXT":
                acks.append(json.loads(message.data))
        return ws

    app = web.Application()
    app.router.add_post("/api/apps.connections.open", connections_open)
    app.router.add_get("/link", link)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = write_setup(
        tmp_path,
        snmpd,
        _chatops(f"http://127.0.0.1:{port}").replace(
            "slack: {enabled: true,", "slack: {enabled: true, socket_mode: true,"
        ),
        secrets={"plugins__chatops__slack__app_token": "xapp-test-token"},
    )
    runtime = build_runtime(Sources(config))
    await runtime.start()
    try:
        (ack,) = await _until("the acknowledgement", lambda: acks)
        assert opened == ["Bearer xapp-test-token"]
        assert ack["envelope_id"] == "env-1"
        assert "up" in json.dumps(ack["payload"]["blocks"]) and "sw1" in json.dumps(ack)
    finally:
        await runtime.stop()
        await runner.cleanup()
