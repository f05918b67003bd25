"""The chat service: conversations, agents and their tests, over the store and the assistant.

A message is answered in its conversation's context: the agent's (or the assistant's) system
prompt from the prompt library, a summary of the older turns, the newest turns in full. When that
would fill more than `summarise_at` of the model's context window, the older turns are summarised
by the `summary` model (chat-summary prompt) and only the summary is sent from then on; if no
model can summarise, they are left out and the summary says so. Everything stored is redacted.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from genosd.plugin import (
    InvalidRequestError,
    Limits,
    LlmUnavailable,
    NotFoundError,
    OnEvent,
    PluginContext,
    Role,
    Turn,
)
from plugins.chat.agents import Agent, check_answer, dump, problems, shipped_agents
from plugins.chat.settings import ChatSettings
from plugins.chat.store import ChatStore, MessageRow, SessionRow, TurnRecord

SEARCH_TOOL = "search_knowledge"
LEFT_OUT = "[genosd: {count} earlier messages were left out: no model could summarise them]"


@dataclass
class Answer:
    """One answered message."""

    session: SessionRow
    turn: int
    content: str
    tool_calls: list[dict[str, Any]]
    tokens_in: int
    tokens_out: int
    latency: float
    model: str
    stopped: str | None
    summarised: bool = False


@dataclass
class TestOutcome:
    """One saved test conversation of an agent, run."""

    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    answer: str = ""
    tools_called: list[str] = field(default_factory=list)


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A model-independent estimate (about four characters a token, plus framing)."""
    return sum(len(m.get("content") or "") // 4 + 4 for m in messages)


class ChatService:
    """Answers messages in conversations; keeps agents."""

    def __init__(self, settings: ChatSettings, context: PluginContext, store: ChatStore):
        self.settings = settings
        self.context = context
        self.store = store
        self._seeded = False

    # -- agents -----------------------------------------------------------------------------

    async def agents(self) -> dict[str, tuple[Agent, bool]]:
        """Every agent by name, and whether genosd shipped it."""
        await self._seed()
        found = await asyncio.to_thread(self.store.agent_bodies)
        return {
            name: (Agent.model_validate(body), shipped) for name, (body, shipped) in found.items()
        }

    async def agent(self, name: str) -> Agent:
        """One agent; NotFoundError otherwise."""
        found = (await self.agents()).get(name)
        if found is None:
            raise NotFoundError(f"no agent {name!r}")
        return found[0]

    async def check(self, agent: Agent) -> list[str]:
        """What is wrong with `agent` here: its tools, roles and prompt."""
        found = problems(agent, self.context.tools(Role.admin, writes=True))
        try:
            await self.context.prompt(agent.prompt, {"message": "test", "changes": agent.writes})
        except (NotFoundError, InvalidRequestError) as exc:
            found.append(f"prompt: {exc}")
        return found

    async def save_agent(self, agent: Agent, actor: str, *, create: bool) -> Agent:
        """Store an agent that passes its checks; InvalidRequestError naming every problem."""
        existing = await self.agents()
        if create and agent.name in existing:
            raise InvalidRequestError(f"an agent {agent.name!r} exists already")
        if not create and agent.name not in existing:
            raise NotFoundError(f"no agent {agent.name!r}")
        found = await self.check(agent)
        if found:
            raise InvalidRequestError(f"agent {agent.name} is not valid", found)
        await asyncio.to_thread(self.store.save_agent, agent.name, dump(agent), actor, False)
        await self.context.audit(actor, "agent_save", agent.name, {"created": create})
        return agent

    async def delete_agent(self, name: str, actor: str) -> None:
        """Forget an agent (a shipped one comes back as shipped at the next start)."""
        if not await asyncio.to_thread(self.store.delete_agent, name):
            raise NotFoundError(f"no agent {name!r}")
        await self.context.audit(actor, "agent_delete", name, {})

    async def _seed(self) -> None:
        if not self._seeded:
            for name, agent in shipped_agents().items():
                await asyncio.to_thread(self.store.seed_agent, name, dump(agent))
            self._seeded = True

    # -- conversations ----------------------------------------------------------------------

    async def ask(
        self,
        session_id: str | None,
        text: str,
        *,
        actor: str,
        role: Role,
        agent_name: str | None = None,
        allow_changes: bool = False,
        on_event: OnEvent | None = None,
    ) -> Answer:
        """Answer `text` in conversation `session_id` (a new one when None) for `actor`."""
        if not text.strip():
            raise InvalidRequestError("the message is empty")
        if len(text) > self.settings.max_message_chars:
            raise InvalidRequestError(
                f"the message has {len(text)} characters; at most "
                f"{self.settings.max_message_chars} (plugins.chat.max_message_chars)"
            )
        if session_id is None:
            agent = await self.agent(agent_name) if agent_name else None
            title = " ".join(self.context.redact(text).split())[:80]
            session = await asyncio.to_thread(self.store.create_session, actor, title, agent_name)
        else:
            session = await asyncio.to_thread(self.store.session, session_id, actor)
            if agent_name is not None and agent_name != session.agent:
                raise InvalidRequestError(
                    f"conversation {session.id} speaks with "
                    f"{session.agent or 'the assistant'}; start a new one for {agent_name}"
                )
            agent = await self.agent(session.agent) if session.agent else None
        writes = allow_changes and (agent is None or agent.writes)
        resolved = await self.context.prompt(
            agent.prompt if agent else "assistant",
            {
                "message": text,
                "actor": actor,
                "now": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "changes": writes,
            },
        )
        system = [m for m in resolved.messages if m["role"] == "system"]
        user = [m for m in resolved.messages if m["role"] != "system"]
        history, summary, summarised = await self._context(session, system + user, agent)
        messages = [
            *system,
            *(
                [{"role": "system", "content": f"Summary of the earlier conversation:\n{summary}"}]
                if summary
                else []
            ),
            *[m.as_model_message() for m in history],
            *user,
        ]
        stored_user = {"role": "user", "content": self.context.redact(text)}
        try:
            turn = await self.turn(
                agent, messages, actor=actor, role=role, writes=writes, on_event=on_event
            )
        except LlmUnavailable as exc:
            record = TurnRecord(0.0, 0, 0, "", error=str(exc)[:500])
            await asyncio.to_thread(
                self.store.add_turn, session, session.agent, [stored_user], record
            )
            raise
        return await self._keep(session, stored_user, turn, summarised)

    async def _keep(
        self, session: SessionRow, user: dict[str, Any], turn: Turn, summarised: bool
    ) -> Answer:
        content = self.context.redact(turn.content)
        added = [
            {**m, "content": self.context.redact(m.get("content") or "")} for m in turn.messages
        ]
        if added and added[-1]["role"] == "assistant":
            added[-1]["content"] = content
        calls = [
            {
                "tool": c.tool,
                "ok": c.ok,
                "duration": c.duration,
                "chars": c.chars,
                "truncated": c.truncated,
                "error": c.error,
            }
            for c in turn.tool_calls
        ]
        record = TurnRecord(
            turn.latency, turn.tokens_in, turn.tokens_out, turn.model, calls, turn.stopped
        )
        turn_id = await asyncio.to_thread(
            self.store.add_turn, session, session.agent, [user, *added], record
        )
        return Answer(
            session,
            turn_id,
            content,
            [{**c, "arguments": t.arguments} for c, t in zip(calls, turn.tool_calls, strict=True)],
            turn.tokens_in,
            turn.tokens_out,
            turn.latency,
            turn.model,
            turn.stopped,
            summarised,
        )

    async def turn(
        self,
        agent: Agent | None,
        messages: list[dict[str, Any]],
        *,
        actor: str,
        role: Role,
        writes: bool = False,
        on_event: OnEvent | None = None,
        stream: bool = True,
    ) -> Turn:
        """One answer by `agent` (the assistant when None) with its tools, knowledge tags and
        limits (never above the plugin's)."""
        limits = Limits(self.settings.max_tool_calls, self.settings.max_tokens)
        if agent is not None:
            limits = Limits(
                min(agent.max_tool_calls, limits.max_tool_calls),
                min(agent.max_tokens, limits.max_tokens),
            )
        return await self.context.assist(
            messages,
            actor=actor,
            role=role,
            agent=agent.name if agent else None,
            tools=agent.tools if agent else None,
            pinned=self.pinned_arguments(agent),
            writes=writes,
            limits=limits,
            model=(agent.model if agent else None) or self.settings.model,
            kind=agent.kind if agent else "chat",
            on_event=on_event,
            stream=stream,
        )

    @staticmethod
    def pinned_arguments(agent: Agent | None) -> dict[str, dict[str, Any]] | None:
        if agent is None or not agent.knowledge_tags:
            return None
        return {SEARCH_TOOL: {"tags": list(agent.knowledge_tags)}}

    async def _context(
        self, session: SessionRow, new: list[dict[str, Any]], agent: Agent | None
    ) -> tuple[list[MessageRow], str, bool]:
        """The stored messages to send in full, the summary to send before them, and whether
        older turns were summarised just now to fit the model's window."""
        history = await asyncio.to_thread(self.store.messages, session.id, session.summary_upto)
        model = (agent.model if agent else None) or self.settings.model
        budget = int(self.settings.window(model) * self.settings.summarise_at)
        summary = session.summary
        size = (
            estimate_tokens(new)
            + estimate_tokens([{"content": summary}])
            + estimate_tokens([m.as_model_message() for m in history])
        )
        if size <= budget:
            return history, summary, False
        turns = list(dict.fromkeys(m.turn for m in history))
        keep = set(turns[-self.settings.keep_turns :])
        older = [m for m in history if m.turn not in keep]
        if not older:
            return history, summary, False
        summary = await self._summarise(summary, older)
        await asyncio.to_thread(self.store.summarised, session.id, summary, older[-1].id)
        return [m for m in history if m.turn in keep], summary, True

    async def _summarise(self, previous: str, older: list[MessageRow]) -> str:
        lines = []
        for m in older:
            if m.role == "tool":
                lines.append(f"[tool {m.extra.get('tool_name', '?')} result] {m.content[:1500]}")
            elif m.content:
                lines.append(f"{m.role}: {m.content[:4000]}")
            for call in m.extra.get("tool_calls") or []:
                function = call.get("function", {})
                lines.append(
                    f"[assistant called {function.get('name')}"
                    f" {json.dumps(function.get('arguments'))[:300]}]"
                )
        try:
            prompt = await self.context.prompt(
                "chat-summary", {"previous": previous, "conversation": "\n".join(lines)}
            )
            answer = await self.context.ask(
                "summary", prompt.messages, schema=prompt.output_schema, cache=False
            )
            text = str(json.loads(answer.content)["summary"]).strip()
        except (LlmUnavailable, ValueError, KeyError, TypeError) as exc:
            self.context.log.warning("could not summarise a conversation: %s", exc)
            text = "\n".join(filter(None, [previous, LEFT_OUT.format(count=len(older))]))
        return self.context.redact(text)

    # -- agent tests ------------------------------------------------------------------------

    async def run_tests(self, agent: Agent, actor: str, role: Role) -> list[TestOutcome]:
        """Run each of `agent`'s test conversations (nothing is stored) and check the answers."""
        outcomes = []
        for test in agent.tests:
            messages: list[dict[str, Any]] = []
            turn: Turn | None = None
            called: list[str] = []
            try:
                for text in test.messages:
                    resolved = await self.context.prompt(
                        agent.prompt,
                        {"message": text, "actor": actor, "now": "", "changes": False},
                    )
                    if not messages:
                        messages = [m for m in resolved.messages if m["role"] == "system"]
                    messages += [m for m in resolved.messages if m["role"] != "system"]
                    turn = await self.turn(agent, messages, actor=actor, role=role, stream=False)
                    messages += turn.messages
                    called += [c.tool for c in turn.tool_calls]
            except LlmUnavailable as exc:
                outcomes.append(TestOutcome(test.name, False, [f"no model answered: {exc}"]))
                continue
            assert turn is not None
            answer = self.context.redact(turn.content)
            last = [c.tool for c in turn.tool_calls]
            failures = check_answer(test.expect, answer, last, turn.stopped is not None)
            outcomes.append(TestOutcome(test.name, not failures, failures, answer, called))
        return outcomes

    # -- analytics --------------------------------------------------------------------------

    async def stats(self, since: float, owner: str | None) -> dict[str, Any]:
        """Conversation analytics since `since` (of `owner` when given)."""
        rows = await asyncio.to_thread(self.store.turn_rows, since, owner)
        notes = await asyncio.to_thread(self.store.feedback_notes, since, owner)
        latencies = [r[2] for r in rows if r[8] is None]
        tools: dict[str, dict[str, Any]] = {}
        durations: dict[str, list[float]] = {}
        agents: dict[str, int] = {}
        for row in rows:
            agents[row[1] or "(assistant)"] = agents.get(row[1] or "(assistant)", 0) + 1
            for call in json.loads(row[6]):
                entry = tools.setdefault(call["tool"], {"calls": 0, "failed": 0})
                entry["calls"] += 1
                entry["failed"] += 0 if call["ok"] else 1
                durations.setdefault(call["tool"], []).append(call["duration"])
        for name, entry in tools.items():
            entry["p50_seconds"] = round(statistics.median(durations[name]), 4)
        return {
            "since": since,
            "conversations": len({r[0] for r in rows if r[0] is not None}),
            "turns": len(rows),
            "errors": sum(1 for r in rows if r[8] is not None),
            "stopped_at_limit": sum(1 for r in rows if r[7] is not None),
            "latency_seconds": _spread(latencies),
            "tokens": {"in": sum(r[3] for r in rows), "out": sum(r[4] for r in rows)},
            "tool_calls": sum(t["calls"] for t in tools.values()),
            "tools": dict(sorted(tools.items())),
            "agents": dict(sorted(agents.items())),
            "feedback": {
                "up": sum(1 for r in rows if r[9] == 1),
                "down": sum(1 for r in rows if r[9] == -1),
                "notes": [
                    {"turn": t, "rating": "up" if r == 1 else "down", "note": n, "at": a}
                    for t, r, n, a in notes
                ],
            },
        }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 4),
        "p95": round(p95, 4),
        "max": round(ordered[-1], 4),
    }
