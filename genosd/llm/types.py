"""What the LLM layer speaks: task kinds, messages, replies, usage rows, its one error."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from genosd.errors import GenosdError

Kind = Literal["chat", "generate", "review", "summary", "classify", "embed"]
KINDS: tuple[Kind, ...] = ("chat", "generate", "review", "summary", "classify", "embed")
Message = dict[str, Any]  # {"role": "system|user|assistant|tool", "content": "...", …}


class LlmUnavailable(GenosdError):
    """No model is configured, or no configured model gave a usable answer."""


class ProviderError(LlmUnavailable):
    """One provider or model failed (the layer falls through to the next one)."""


@dataclass
class ToolCall:
    """A tool the model asks to call, with its arguments (untrusted: validated by the caller)."""

    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    """One model's answer, with what it cost."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    first_token: float | None = None  # seconds until the first streamed piece


@dataclass
class Usage:
    """One call to one model: what was asked of whom, what it cost, how it ended."""

    provider: str
    model: str
    kind: str
    result: str  # ok | error | repaired | invalid
    latency: float
    tokens_in: int = 0
    tokens_out: int = 0
    first_token: float | None = None
    cached: bool = False
    error: str | None = None
    at: float = field(default_factory=time.time)
