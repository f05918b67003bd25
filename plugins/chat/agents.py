"""Agents: configured assistants — a system prompt from the prompt library, a model, the tools
they may use, the knowledge they may search, their limits, and saved test conversations.

An agent is checked before it is saved (`problems`): its tools exist, none needs a role above the
agent's, a tool that drafts changes only with `writes: true`, its prompt exists. genosd ships
three (`agents/*.yaml`): a read-only troubleshooter, a change planner that may only draft plans,
and a config reviewer; they are seeded once and may be edited like any other.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genosd.plugin import Role, ToolInfo

NAME = r"^[a-z][a-z0-9_-]{0,39}$"
SHIPPED_DIR = Path(__file__).with_name("agents")
ROLE_ORDER = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expect(_Strict):
    """What a test conversation's last answer must (not) do."""

    tools_called: list[str] = Field(default_factory=list, description="each called at least once")
    tools_not_called: list[str] = Field(default_factory=list)
    answer_contains: list[str] = Field(default_factory=list, description="case-insensitive")
    answer_not_contains: list[str] = Field(default_factory=list)
    answer_matches: str | None = Field(None, description="a regular expression")
    max_tool_calls: int | None = Field(None, ge=0, le=1000)
    stopped: bool | None = Field(None, description="whether the answer stopped at a limit")

    @field_validator("answer_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class AgentTest(_Strict):
    """A saved conversation: the user's messages in order, and what the final answer must do."""

    name: str = Field(pattern=r"^[\w .-]{1,80}$")
    messages: list[str] = Field(min_length=1, max_length=20)
    expect: Expect = Field(default_factory=Expect)


class Agent(_Strict):
    """A configured assistant."""

    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=500)
    prompt: str = Field("assistant", max_length=64, description="a prompt of the prompt library")
    kind: Literal["chat", "review", "summary", "classify", "generate"] = "chat"
    model: str | None = Field(None, max_length=200, description="default: the kind's route")
    tools: list[str] = Field(default_factory=list, max_length=100)
    knowledge_tags: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="search only documents with these tags (empty: all)",
    )
    role: Role = Field(Role.viewer, description="the highest role its tools may need")
    writes: bool = Field(False, description="may draft changes (plans a person approves)")
    max_tool_calls: int = Field(8, ge=0, le=50)
    max_tokens: int = Field(4096, ge=64, le=200_000)
    tests: list[AgentTest] = Field(default_factory=list, max_length=50)


@cache
def shipped_agents() -> dict[str, Agent]:
    """The agents genosd ships, by name."""
    return {
        path.stem: Agent.model_validate(yaml.safe_load(path.read_text()))
        for path in sorted(SHIPPED_DIR.glob("*.yaml"))
    }


def problems(agent: Agent, tools: list[ToolInfo]) -> list[str]:
    """What is wrong with `agent`'s tools given the registry's `tools` (its prompt is checked
    by rendering it)."""
    found = []
    by_name = {t.name: t for t in tools}
    for name in agent.tools:
        tool = by_name.get(name)
        if tool is None:
            found.append(f"tools: no tool {name!r} (known: {', '.join(sorted(by_name))})")
        elif ROLE_ORDER[tool.role] > ROLE_ORDER[agent.role]:
            found.append(
                f"tools: {name} needs the {tool.role.value} role; the agent has {agent.role.value}"
            )
        elif tool.writes and not agent.writes:
            found.append(f"tools: {name} drafts changes; the agent needs `writes: true` for it")
    if len(set(agent.tools)) != len(agent.tools):
        found.append("tools: a tool is listed twice")
    for test in agent.tests:
        for name in test.expect.tools_called:
            if name not in agent.tools:
                found.append(f"tests.{test.name}: expects {name!r}, which the agent may not use")
    return found


def check_answer(expect: Expect, answer: str, tools_called: list[str], stopped: bool) -> list[str]:
    """How an answer fails its expectations (empty: it passes)."""
    failed = []
    for name in expect.tools_called:
        if name not in tools_called:
            failed.append(f"{name} was not called (called: {', '.join(tools_called) or 'none'})")
    for name in expect.tools_not_called:
        if name in tools_called:
            failed.append(f"{name} was called")
    lowered = answer.lower()
    for text in expect.answer_contains:
        if text.lower() not in lowered:
            failed.append(f"the answer does not contain {text!r}")
    for text in expect.answer_not_contains:
        if text.lower() in lowered:
            failed.append(f"the answer contains {text!r}")
    if expect.answer_matches is not None and not re.search(expect.answer_matches, answer):
        failed.append(f"the answer does not match /{expect.answer_matches}/")
    if expect.max_tool_calls is not None and len(tools_called) > expect.max_tool_calls:
        failed.append(f"{len(tools_called)} tool calls (at most {expect.max_tool_calls})")
    if expect.stopped is not None and expect.stopped != stopped:
        failed.append("it stopped at a limit" if stopped else "it did not stop at a limit")
    return failed


def dump(agent: Agent) -> dict[str, Any]:
    """The agent as stored (JSON data)."""
    return agent.model_dump(mode="json")
