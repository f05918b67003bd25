"""The chat assistant over HTTP, under /api/v1/plugins/chat: conversations (REST and a WebSocket
that streams the answer and shows each tool call as it happens), feedback, analytics and agents.

Everyone with a key may chat and sees only their own conversations; drafting changes needs the
operator role and `allow_changes` on the message; agents are read by viewers, tested by
operators and edited by admins. WebSocket protocol: see docs/assistant.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Annotated, Any, Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from genosd.plugin import (
    PRINCIPAL,
    Api,
    GenosdError,
    InvalidRequestError,
    LlmUnavailable,
    NotFoundError,
    Role,
)
from plugins.chat.agents import Agent, AgentTest
from plugins.chat.conversation import Answer, ChatService, TestOutcome
from plugins.chat.store import MessageRow, SessionRow

SESSION_ID = r"{session:[0-9a-f]+}"  # (no braces inside: the spec's path parser)
AGENT_NAME = r"{name:[a-z][a-z0-9_-]*}"
ROLE_ORDER = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionOut(BaseModel):
    """A conversation's header."""

    id: str
    owner: str
    title: str
    agent: str | None
    created_at: float
    updated_at: float
    turns: int
    summarised: bool


class SessionList(BaseModel):
    """Conversations, the most recently used first."""

    items: list[SessionOut]


class MessageOut(BaseModel):
    """One message: the user's, the assistant's (with the tools it called), a tool's result."""

    id: int
    turn: int
    role: str
    content: str
    tool: str | None = None
    tool_calls: list[dict[str, Any]] = []
    at: float


class SessionDetail(SessionOut):
    """A conversation with its messages, and the summary its older turns are sent as."""

    summary: str
    messages: list[MessageOut]


class NewSession(_Strict):
    """A new conversation, with the assistant or an agent."""

    title: str = Field("", max_length=200)
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,39}$")


class Rename(_Strict):
    """A conversation's new title."""

    title: str = Field(min_length=1, max_length=200)


class SessionsQuery(_Strict):
    """Whose conversations (admins may list everyone's)."""

    everyone: bool = False
    limit: int = Field(100, ge=1, le=1000)


class ExportQuery(_Strict):
    """The export's format."""

    format: Literal["json", "markdown"] = "json"


class MessageIn(_Strict):
    """A message to the assistant (or the conversation's agent)."""

    content: str = Field(min_length=1, max_length=200_000)
    allow_changes: bool = Field(
        False, description="the assistant may draft a change request (operators; never pushed)"
    )


class ToolCallOut(BaseModel):
    """A tool the answer called."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    duration: float
    chars: int
    truncated: bool
    error: str | None


class AnswerOut(BaseModel):
    """The assistant's answer and what it took."""

    session: str
    turn: int
    content: str
    tool_calls: list[ToolCallOut]
    tokens_in: int
    tokens_out: int
    latency: float
    model: str
    stopped: str | None
    summarised: bool


class FeedbackIn(_Strict):
    """Thumbs up or down on an answer, and why."""

    rating: Literal["up", "down"]
    note: str = Field("", max_length=2000)


class Done(BaseModel):
    """The request was carried out."""

    ok: bool = True


class StatsQuery(_Strict):
    """The window (hours back) and whose conversations (admins: everyone's by default)."""

    hours: float = Field(24 * 7, gt=0, le=24 * 366)
    mine: bool = False


class Stats(BaseModel):
    """Conversation analytics: counts, latency, tokens, tool usage, agents, feedback."""

    since: float
    conversations: int
    turns: int
    errors: int
    stopped_at_limit: int
    latency_seconds: dict[str, float | None]
    tokens: dict[str, int]
    tool_calls: int
    tools: dict[str, dict[str, Any]]
    agents: dict[str, int]
    feedback: dict[str, Any]


class AgentOut(Agent):
    """An agent and whether genosd shipped it."""

    shipped: bool = False


class AgentList(BaseModel):
    """Every agent."""

    items: list[AgentOut]


class CloneIn(_Strict):
    """The copy's name."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")


class Validation(BaseModel):
    """Whether an agent can run here, and what stops it."""

    name: str
    valid: bool
    problems: list[str]


class TestRun(BaseModel):
    """An agent's test conversations, run now."""

    agent: str
    passed: int
    failed: int
    results: list[dict[str, Any]]


class TestsIn(_Strict):
    """Test conversations to run (the agent's saved ones when empty)."""

    tests: list[AgentTest] = Field(default_factory=list, max_length=50)


def _actor(request: web.Request) -> str:
    return str(request[PRINCIPAL].principal)


def _role(request: web.Request) -> Role:
    return Role(request[PRINCIPAL].role)


def _session_out(row: SessionRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "owner": row.owner,
        "title": row.title,
        "agent": row.agent,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "turns": row.turns,
        "summarised": bool(row.summary),
    }


def _message_out(row: MessageRow) -> MessageOut:
    return MessageOut(
        id=row.id,
        turn=row.turn,
        role=row.role,
        content=row.content,
        tool=row.extra.get("tool_name"),
        tool_calls=[c.get("function", {}) for c in row.extra.get("tool_calls") or []],
        at=row.at,
    )


def answer_out(answer: Answer) -> AnswerOut:
    """The API's view of an answer."""
    return AnswerOut(
        session=answer.session.id,
        turn=answer.turn,
        content=answer.content,
        tool_calls=[ToolCallOut(**c) for c in answer.tool_calls],
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        latency=answer.latency,
        model=answer.model,
        stopped=answer.stopped,
        summarised=answer.summarised,
    )


def markdown(detail: SessionDetail) -> str:
    """A conversation as Markdown (tool results folded into one line each)."""
    lines = [f"# {detail.title or detail.id}", ""]
    lines.append(
        f"Conversation {detail.id} of {detail.owner}, with {detail.agent or 'the assistant'}."
    )
    if detail.summary:
        lines += ["", "> Summary of earlier turns: " + detail.summary.replace("\n", " ")]
    for m in detail.messages:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(m.at))
        if m.role == "tool":
            lines += ["", f"*tool {m.tool}: {len(m.content)} characters*"]
            continue
        for call in m.tool_calls:
            lines += ["", f"*called {call.get('name')} {json.dumps(call.get('arguments'))}*"]
        if m.content:
            lines += ["", f"**{m.role}** ({stamp} UTC):", "", m.content]
    return "\n".join(lines) + "\n"


def _outcome(outcome: TestOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "passed": outcome.passed,
        "failures": outcome.failures,
        "answer": outcome.answer,
        "tools_called": outcome.tools_called,
    }


def chat_routes(service: ChatService) -> Api:
    """The routes, bound to this service."""
    store = service.store
    api = Api("chat", "1")
    tag = "chat"

    async def detail(session_id: str, owner: str | None) -> SessionDetail:
        row = await asyncio.to_thread(store.session, session_id, owner)
        messages = await asyncio.to_thread(store.messages, session_id)
        return SessionDetail(
            **_session_out(row),
            summary=row.summary,
            messages=[_message_out(m) for m in messages],
        )

    def owner_of(request: web.Request) -> str | None:
        """Admins may open anyone's conversation; everyone else only their own."""
        return None if _role(request) is Role.admin else _actor(request)

    @api.route(
        "GET", "/sessions", tag=tag, role=Role.viewer, query=SessionsQuery, response=SessionList
    )
    async def list_sessions(request: web.Request, query: SessionsQuery) -> SessionList:
        """Your conversations (everyone's for admins with `everyone=true`), newest first."""
        owner = None if query.everyone and _role(request) is Role.admin else _actor(request)
        rows = await asyncio.to_thread(store.sessions, owner, query.limit)
        return SessionList(items=[SessionOut(**_session_out(r)) for r in rows])

    @api.route(
        "POST",
        "/sessions",
        tag=tag,
        role=Role.viewer,
        body=NewSession,
        response=SessionOut,
        status=201,
    )
    async def create_session(request: web.Request, body: NewSession) -> SessionOut:
        """Start a conversation (with an agent when named)."""
        if body.agent is not None:
            try:
                await service.agent(body.agent)
            except NotFoundError as exc:
                raise InvalidRequestError(str(exc)) from None
        row = await asyncio.to_thread(store.create_session, _actor(request), body.title, body.agent)
        return SessionOut(**_session_out(row))

    @api.route("GET", f"/sessions/{SESSION_ID}", tag=tag, role=Role.viewer, response=SessionDetail)
    async def get_session(request: web.Request) -> SessionDetail:
        """A conversation and its messages."""
        return await detail(request.match_info["session"], owner_of(request))

    @api.route(
        "PATCH",
        f"/sessions/{SESSION_ID}",
        tag=tag,
        role=Role.viewer,
        body=Rename,
        response=SessionOut,
    )
    async def rename_session(request: web.Request, body: Rename) -> SessionOut:
        """Give a conversation a title."""
        session_id = request.match_info["session"]
        await asyncio.to_thread(store.session, session_id, _actor(request))
        await asyncio.to_thread(store.rename, session_id, body.title)
        return SessionOut(**_session_out(await asyncio.to_thread(store.session, session_id)))

    @api.route("DELETE", f"/sessions/{SESSION_ID}", tag=tag, role=Role.viewer, response=Done)
    async def delete_session(request: web.Request) -> Done:
        """Delete a conversation and its messages."""
        session_id = request.match_info["session"]
        await asyncio.to_thread(store.session, session_id, owner_of(request))
        await asyncio.to_thread(store.delete, session_id)
        return Done()

    @api.route(
        "GET",
        f"/sessions/{SESSION_ID}/export",
        tag=tag,
        role=Role.viewer,
        query=ExportQuery,
        media_types=("application/json", "text/markdown"),
    )
    async def export_session(request: web.Request, query: ExportQuery) -> web.Response:
        """A conversation as JSON or Markdown, to keep or attach to a ticket."""
        found = await detail(request.match_info["session"], owner_of(request))
        if query.format == "markdown":
            return web.Response(text=markdown(found), content_type="text/markdown")
        return web.json_response(found.model_dump(mode="json"))

    @api.route(
        "POST",
        f"/sessions/{SESSION_ID}/messages",
        tag=tag,
        role=Role.viewer,
        body=MessageIn,
        response=AnswerOut,
        unavailable=True,
    )
    async def post_message(request: web.Request, body: MessageIn) -> AnswerOut:
        """Ask in a conversation and wait for the whole answer (the WebSocket streams it)."""
        allow = _may_draft(request, body.allow_changes)
        answer = await service.ask(
            request.match_info["session"],
            body.content,
            actor=_actor(request),
            role=_role(request),
            allow_changes=allow,
        )
        return answer_out(answer)

    @api.route(
        "POST",
        r"/turns/{turn:\d+}/feedback",
        tag=tag,
        role=Role.viewer,
        body=FeedbackIn,
        response=Done,
    )
    async def feedback(request: web.Request, body: FeedbackIn) -> Done:
        """Rate an answer of yours: thumbs up or down, with a note."""
        rating = 1 if body.rating == "up" else -1
        turn = int(request.match_info["turn"])
        if turn >= 1 << 63:  # beyond SQLite's integers: no such answer
            raise NotFoundError(f"no answer {turn} of yours")
        await asyncio.to_thread(store.rate, turn, _actor(request), rating, body.note)
        return Done()

    @api.route("GET", "/stats", tag=tag, role=Role.viewer, query=StatsQuery, response=Stats)
    async def stats(request: web.Request, query: StatsQuery) -> Stats:
        """Conversation analytics: yours, or everyone's for admins."""
        owner = None if _role(request) is Role.admin and not query.mine else _actor(request)
        since = time.time() - query.hours * 3600
        return Stats(**await service.stats(since, owner))

    @api.route("GET", "/ws", tag=tag, role=Role.viewer)
    async def chat_ws(request: web.Request) -> web.StreamResponse:
        """The streaming chat: messages in, answer pieces and tool calls out (WebSocket)."""
        return await stream(service, request)

    # -- agents -----------------------------------------------------------------------------

    @api.route("GET", "/agents", tag=tag, role=Role.viewer, response=AgentList)
    async def list_agents(request: web.Request) -> AgentList:
        """Every agent."""
        found = await service.agents()
        return AgentList(
            items=[
                AgentOut(**a.model_dump(), shipped=shipped)
                for _, (a, shipped) in sorted(found.items())
            ]
        )

    @api.route("GET", f"/agents/{AGENT_NAME}", tag=tag, role=Role.viewer, response=AgentOut)
    async def get_agent(request: web.Request) -> AgentOut:
        """One agent."""
        name = request.match_info["name"]
        agent = await service.agent(name)
        shipped = (await service.agents())[name][1]
        return AgentOut(**agent.model_dump(), shipped=shipped)

    @api.route("POST", "/agents", tag=tag, role=Role.admin, body=Agent, response=Agent, status=201)
    async def create_agent(request: web.Request, body: Agent) -> Agent:
        """Create an agent (refused, naming every problem, when it could not run)."""
        return await service.save_agent(body, _actor(request), create=True)

    @api.route("PUT", f"/agents/{AGENT_NAME}", tag=tag, role=Role.admin, body=Agent, response=Agent)
    async def update_agent(request: web.Request, body: Agent) -> Agent:
        """Replace an agent's definition."""
        if body.name != request.match_info["name"]:
            raise InvalidRequestError("the body's name differs from the path's (clone to rename)")
        return await service.save_agent(body, _actor(request), create=False)

    @api.route("DELETE", f"/agents/{AGENT_NAME}", tag=tag, role=Role.admin, response=Done)
    async def delete_agent(request: web.Request) -> Done:
        """Delete an agent (a shipped one returns, as shipped, at the next start)."""
        await service.delete_agent(request.match_info["name"], _actor(request))
        return Done()

    @api.route(
        "POST",
        f"/agents/{AGENT_NAME}/clone",
        tag=tag,
        role=Role.admin,
        body=CloneIn,
        response=Agent,
        status=201,
    )
    async def clone_agent(request: web.Request, body: CloneIn) -> Agent:
        """A copy of an agent under a new name, to adapt."""
        source = await service.agent(request.match_info["name"])
        copy = source.model_copy(update={"name": body.name})
        return await service.save_agent(copy, _actor(request), create=True)

    @api.route(
        "POST", f"/agents/{AGENT_NAME}/validate", tag=tag, role=Role.viewer, response=Validation
    )
    async def validate_agent(request: web.Request) -> Validation:
        """Whether an agent can run here: its tools exist, its role allows them, its prompt."""
        agent = await service.agent(request.match_info["name"])
        found = await service.check(agent)
        return Validation(name=agent.name, valid=not found, problems=found)

    @api.route(
        "POST",
        f"/agents/{AGENT_NAME}/test",
        tag=tag,
        role=Role.operator,
        body=TestsIn,
        response=TestRun,
        unavailable=True,
    )
    async def test_agent(request: web.Request, body: TestsIn) -> TestRun:
        """Run an agent's test conversations (or these) on the model and check each answer."""
        agent = await service.agent(request.match_info["name"])
        if body.tests:
            agent = agent.model_copy(update={"tests": body.tests})
        outcomes = await service.run_tests(agent, _actor(request), _role(request))
        passed = sum(1 for o in outcomes if o.passed)
        return TestRun(
            agent=agent.name,
            passed=passed,
            failed=len(outcomes) - passed,
            results=[_outcome(o) for o in outcomes],
        )

    return api


def _may_draft(request: web.Request, asked: bool) -> bool:
    if asked and ROLE_ORDER[_role(request)] < ROLE_ORDER[Role.operator]:
        raise InvalidRequestError("drafting changes needs the operator role")
    return asked


# -- the WebSocket --------------------------------------------------------------------------


class WsMessage(_Strict):
    """Ask: in `session` (a new conversation when left out, with `agent` when named)."""

    type: Literal["message"]
    content: str = Field(min_length=1, max_length=200_000)
    session: str | None = Field(None, pattern=r"^[0-9a-f]{16}$")
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    allow_changes: bool = False


class WsPing(_Strict):
    """A liveness check."""

    type: Literal["ping"]


_WS_PARSER: TypeAdapter[WsMessage | WsPing] = TypeAdapter(
    Annotated[WsMessage | WsPing, Field(discriminator="type")]
)


async def stream(service: ChatService, request: web.Request) -> web.WebSocketResponse:
    """Serve one chat WebSocket: one answer at a time, streamed."""
    # a browser offers ["genosd", "genosd.key.<key>"]: answer with the plain one
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20, protocols=("genosd",))
    await ws.prepare(request)
    key = request[PRINCIPAL]
    await ws.send_json({"type": "welcome", "actor": str(key.principal), "role": key.role})
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            continue
        if key.expires_at is not None and key.expires_at < time.time():
            await ws.send_json({"type": "error", "code": "unauthorized", "message": "key expired"})
            break
        try:
            parsed = _WS_PARSER.validate_json(frame.data)
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            await ws.send_json({"type": "error", "code": "invalid_request", "message": problem})
            continue
        if isinstance(parsed, WsPing):
            await ws.send_json({"type": "pong"})
            continue
        await _answer(service, request, ws, parsed)
    return ws


async def _answer(
    service: ChatService, request: web.Request, ws: web.WebSocketResponse, message: WsMessage
) -> None:
    async def send(kind: str, data: dict[str, Any]) -> None:
        if not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_json({"type": kind, **data})

    try:
        allow = _may_draft(request, message.allow_changes)
        answer = await service.ask(
            message.session,
            message.content,
            actor=_actor(request),
            role=_role(request),
            agent_name=message.agent,
            allow_changes=allow,
            on_event=send,
        )
    except LlmUnavailable as exc:
        await send("error", {"code": "unavailable", "message": str(exc)})
        return
    except GenosdError as exc:
        code = "not_found" if isinstance(exc, NotFoundError) else "invalid_request"
        await send("error", {"code": code, "message": str(exc)})
        return
    await send("done", answer_out(answer).model_dump(mode="json"))
