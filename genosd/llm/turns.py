"""What one assistant turn is made of: its limits, its tool calls, its answer, its events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from genosd.llm.types import Message

# token (a piece of the answer), tool_call, tool_result, notice (the turn stopped at a limit)
EventType = Literal["token", "tool_call", "tool_result", "notice"]
OnEvent = Callable[[EventType, dict[str, Any]], Awaitable[None]]
Stopped = Literal["tool_limit", "token_limit"]


@dataclass(frozen=True)
class Limits:
    """How far one turn may go."""

    max_tool_calls: int = 8
    max_tokens: int = 8192  # output tokens over every model call of the turn


@dataclass
class ToolCallRecord:
    """One tool call of a turn, as the model asked for it and how it went."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    chars: int
    truncated: bool
    duration: float
    error: str | None = None


@dataclass
class Turn:
    """The model's answer to one user message, and how it got there."""

    content: str
    messages: list[Message]  # what the turn added: tool calls, tool results, the answer
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    provider: str = ""
    model: str = ""
    latency: float = 0.0
    stopped: Stopped | None = None
