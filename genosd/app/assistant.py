"""One assistant turn: the model answers a conversation, calling genosd's tools as it goes.

The model is offered the tools the caller may use (read-only ones unless the turn allows changes,
and only an agent's own tools when an agent speaks). Each tool call it makes goes through the tool
registry (role check, argument validation, timeout, size cap, redaction, audit); a tool it was not
offered is refused there. Tool results go back to the model as data in `tool` messages, never as
instructions. The loop is bounded: after `max_tool_calls` calls, or `max_tokens` output tokens,
the model gets one last call without tools to answer from what it has; a model that still asks for
tools gets a clear stop message instead of an answer. A failing model is LlmUnavailable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from genosd.app.tools import Caller, ToolRegistry
from genosd.llm.layer import LlmLayer, Result
from genosd.llm.turns import EventType, Limits, OnEvent, ToolCallRecord, Turn
from genosd.llm.types import Kind, Message

FINAL_NOTE = (
    "genosd: the tool budget of this answer is spent ({why}). Answer now from the tool results "
    "above, and say what you could not check."
)
STOP_MESSAGE = (
    "I stopped: the model kept asking for tools after {calls} tool calls ({why}), so this "
    "answer is incomplete. Tools called: {tools}."
)


async def _quiet(kind: EventType, data: dict[str, Any]) -> None:
    return None


async def converse(
    llm: LlmLayer,
    tools: ToolRegistry,
    messages: list[Message],
    caller: Caller,
    *,
    allowed: list[str] | None = None,
    pinned: dict[str, dict[str, Any]] | None = None,
    writes: bool = False,
    limits: Limits | None = None,
    kind: Kind = "chat",
    model: str | None = None,
    on_event: OnEvent | None = None,
    stream: bool = True,
) -> Turn:
    """The model's answer to `messages` (ending with the user's), tools called on `caller`'s
    behalf; `allowed` the only tools an agent may use, `writes` whether this turn may draft
    changes, `pinned` arguments forced on a tool whatever the model asks (an agent's knowledge
    tags on the search tool). LlmUnavailable when no model answers."""
    emit = on_event or _quiet
    limits = limits or Limits()
    offered = tools.available(caller.role, writes=writes, names=allowed)
    schemas = [t.schema() for t in offered] or None
    names = [t.name for t in offered]
    started = time.monotonic()
    turn = Turn("", [])
    while True:
        why = _spent(turn, limits)
        offer = schemas if why is None else None
        history = [*messages, *turn.messages]
        if why is not None:
            history.append({"role": "system", "content": FINAL_NOTE.format(why=why)})
        result = await _streamed(llm, kind, history, offer, model, emit if stream else None)
        reply = result.reply
        turn.model_calls += 1
        turn.tokens_in += reply.tokens_in
        turn.tokens_out += reply.tokens_out
        turn.provider, turn.model = result.provider, result.model
        if not reply.tool_calls:
            turn.content = reply.content
            turn.messages.append({"role": "assistant", "content": reply.content})
            break
        if why is not None:  # it wants more tools after being told the budget is spent
            turn.stopped = "token_limit" if "tokens" in why else "tool_limit"
            turn.content = STOP_MESSAGE.format(
                calls=len(turn.tool_calls),
                why=why,
                tools=", ".join(c.tool for c in turn.tool_calls) or "none",
            )
            turn.messages.append({"role": "assistant", "content": turn.content})
            await emit("notice", {"message": turn.content})
            break
        calls = reply.tool_calls[: max(limits.max_tool_calls - len(turn.tool_calls), 0)]
        turn.messages.append(
            {
                "role": "assistant",
                "content": reply.content,
                "tool_calls": [
                    {"function": {"name": c.name, "arguments": c.arguments}} for c in calls
                ],
            }
        )
        for call in calls:
            await emit("tool_call", {"tool": call.name, "arguments": call.arguments})
            arguments = call.arguments
            if pinned and call.name in pinned:
                arguments = {**arguments, **pinned[call.name]}
            done = await tools.call(
                call.name,
                arguments,
                actor=caller.actor,
                role=caller.role,
                agent=caller.agent,
                allowed=names,
            )
            record = ToolCallRecord(
                call.name,
                arguments,
                done.ok,
                done.chars,
                done.truncated,
                done.duration,
                done.error,
            )
            turn.tool_calls.append(record)
            await emit(
                "tool_result",
                {
                    "tool": call.name,
                    "ok": done.ok,
                    "chars": done.chars,
                    "truncated": done.truncated,
                    "duration": done.duration,
                    "error": done.error,
                },
            )
            turn.messages.append({"role": "tool", "tool_name": call.name, "content": done.content})
    if turn.stopped is None and _spent(turn, limits) is not None and turn.tool_calls:
        turn.stopped = "token_limit" if turn.tokens_out >= limits.max_tokens else "tool_limit"
    turn.latency = round(time.monotonic() - started, 4)
    return turn


async def _streamed(
    llm: LlmLayer,
    kind: Kind,
    history: list[Message],
    tools: list[dict[str, Any]] | None,
    model: str | None,
    emit: OnEvent | None,
) -> Result:
    """One model call, its pieces sent to `emit` as they arrive (a preview: a model that fails
    half-way is replaced by the next one, whose answer is the one that counts)."""
    if emit is None:
        return await llm.chat(kind, history, tools=tools, cache=False, model=model)
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def drain() -> None:
        while (text := await queue.get()) is not None:
            await emit("token", {"text": text})

    drainer = asyncio.create_task(drain())
    try:
        return await llm.chat(
            kind, history, tools=tools, on_piece=queue.put_nowait, cache=False, model=model
        )
    finally:
        queue.put_nowait(None)
        await drainer


def _spent(turn: Turn, limits: Limits) -> str | None:
    """Why the turn may call no more tools, or None."""
    if len(turn.tool_calls) >= limits.max_tool_calls:
        return f"{limits.max_tool_calls} tool calls"
    if turn.tokens_out >= limits.max_tokens:
        return f"{limits.max_tokens} output tokens"
    return None
