"""Test runs of prompts: one version with variables, or every saved case on two versions or two
models side by side (A/B), each checked by its assertion; results stored with the store."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genosd.plugin import Ask, LlmUnavailable
from plugins.prompt.model import PromptVersion, json_schema, render


class Check(BaseModel):
    """What a case's answer must satisfy."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["contains", "regex", "json_schema", "equals"]
    value: Any

    @field_validator("value")
    @classmethod
    def _usable(cls, value: Any, info: Any) -> Any:
        kind = info.data.get("kind")
        if kind == "regex":
            try:
                re.compile(str(value))
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        if kind == "json_schema":
            json_schema(value)
        return value


class Case(BaseModel):
    """A saved input of a prompt and what its answer must satisfy."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    variables: dict[str, Any] = {}
    check: Check | None = None


class RunResult(BaseModel):
    """One answer: what it said, from which model, what it cost, whether it passed."""

    version: int
    case: str | None
    provider: str | None
    model: str | None
    output: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency: float = 0.0
    passed: bool
    problem: str | None = None


class Side(BaseModel):
    """One side of an A/B comparison: a version and/or a model."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=1_000_000_000)
    model: str | None = Field(None, max_length=200)


class CompareIn(BaseModel):
    """Two sides, run on every saved case of the prompt."""

    model_config = ConfigDict(extra="forbid")

    a: Side
    b: Side


class CaseRow(BaseModel):
    """One case on both sides."""

    case: str
    a: RunResult
    b: RunResult


class SideTotals(BaseModel):
    """How one side did over all cases."""

    passed: int
    failed: int
    mean_latency: float
    tokens_out: int


class Comparison(BaseModel):
    """An A/B comparison, case by case, with totals per side."""

    id: str
    rows: list[CaseRow]
    a: SideTotals
    b: SideTotals


def totals(results: list[RunResult]) -> SideTotals:
    """Passes, failures, mean latency and output tokens of one side."""
    latencies = [r.latency for r in results]
    return SideTotals(
        passed=sum(r.passed for r in results),
        failed=sum(not r.passed for r in results),
        mean_latency=round(sum(latencies) / len(latencies), 4) if latencies else 0.0,
        tokens_out=sum(r.tokens_out for r in results),
    )


def verdict(check: Check | None, output: str) -> str | None:
    """Why `output` fails `check`, or None."""
    if check is None:
        return None
    if check.kind == "contains":
        return None if str(check.value) in output else f"does not contain {check.value!r}"
    if check.kind == "regex":
        return None if re.search(str(check.value), output) else f"does not match {check.value!r}"
    if check.kind == "equals":
        try:
            same = json.loads(output) == check.value
        except json.JSONDecodeError:
            same = output.strip() == str(check.value).strip()
        return None if same else "is not equal to the expected answer"
    try:
        jsonschema.validate(json.loads(output), check.value)
    except json.JSONDecodeError as exc:
        return f"is not JSON: {exc.msg}"
    except jsonschema.ValidationError as exc:
        return f"does not match the schema: {exc.message}"[:300]
    return None


async def run_once(
    ask: Ask,
    prompt: PromptVersion,
    variables: dict[str, Any],
    *,
    model: str | None = None,
    case: Case | None = None,
) -> RunResult:
    """Send one rendered version to a model (through genosd's LLM layer) and check the answer."""
    messages = render(prompt, variables)
    started = time.monotonic()
    try:
        answer = await ask(
            prompt.kind, messages, model=model, schema=prompt.output_schema, cache=False
        )
    except LlmUnavailable as exc:
        return RunResult(
            version=prompt.version,
            case=case.name if case else None,
            provider=None,
            model=model,
            output="",
            latency=time.monotonic() - started,
            passed=False,
            problem=str(exc),
        )
    problem = verdict(case.check if case else None, answer.content)
    return RunResult(
        version=prompt.version,
        case=case.name if case else None,
        provider=answer.provider,
        model=answer.model,
        output=answer.content,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        latency=answer.latency,
        passed=problem is None,
        problem=problem,
    )
