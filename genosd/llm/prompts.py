"""Prompts: a template (Jinja2, sandboxed, strict) with typed variables, a task kind, an optional
answer schema; genosd's own prompts, and which version of each its features use.

genosd's features ask for a prompt by name through a `PromptBook`. When a prompt library (a plugin
such as `prompt`) lends a source, the feature uses that prompt's active version, so users tune what
genosd sends; otherwise, or when the active version cannot be rendered with what the feature
supplies, the built-in text shipped in `builtin_prompts/` is used and the reason is returned.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml
from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genosd.errors import InvalidRequestError, NotFoundError
from genosd.typedvars import coerce as coerce_variables

log = logging.getLogger(__name__)

PromptKind = Literal["chat", "generate", "review", "summary", "classify", "embed"]
BUILTIN_DIR = Path(__file__).parent / "builtin_prompts"
_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def json_schema(value: Any) -> Any:
    """`value` if it is a JSON Schema; ValueError saying what is wrong otherwise."""
    try:
        jsonschema.Draft202012Validator.check_schema(value)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a JSON Schema: {exc.message}") from None
    return value


class PromptVariable(BaseModel):
    """A variable the template uses."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["str", "int", "float", "bool", "list", "text"] = "str"
    required: bool = True
    default: Any = None
    description: str = ""


class PromptBody(BaseModel):
    """What a prompt version holds (everything but its name and bookkeeping)."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=1000)
    kind: PromptKind = "chat"
    system: str = Field("", max_length=20_000, description="the system message (a template)")
    template: str = Field(min_length=1, max_length=100_000, description="the user message")
    variables: dict[str, PromptVariable] = {}
    output_schema: dict[str, Any] | None = Field(
        None, description="a JSON Schema the answer must match"
    )
    tags: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("system", "template")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            _ENVIRONMENT.parse(value)
        except TemplateError as exc:
            raise ValueError(f"the template does not compile: {exc}") from None
        return value

    @field_validator("variables")
    @classmethod
    def _names(cls, value: dict[str, PromptVariable]) -> dict[str, PromptVariable]:
        for name in value:
            if not re.match(r"^[a-z_][a-z0-9_]{0,63}$", name):
                raise ValueError(f"{name!r} is not a usable variable name")
        return value

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else json_schema(value)

    @model_validator(mode="after")
    def _declared(self) -> PromptBody:
        used: set[str] = set()
        for text in (self.system, self.template):
            used |= meta.find_undeclared_variables(_ENVIRONMENT.parse(text))
        undeclared = sorted(used - set(self.variables) - set(_ENVIRONMENT.globals))
        if undeclared:
            raise ValueError(
                f"the template uses {', '.join(undeclared)}, not declared in variables"
            )
        return self


def coerce(body: PromptBody, given: dict[str, Any]) -> dict[str, Any]:
    """The variables for a render: typed as declared, defaults filled; InvalidRequestError
    naming every problem."""
    values, problems = coerce_variables(body.variables, given)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return values


def render(body: PromptBody, given: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages of a prompt with `given` variables (InvalidRequestError if a variable
    is missing, mistyped or the template uses one that is not declared)."""
    values = coerce(body, given)
    try:
        messages = []
        if body.system:
            messages.append({"role": "system", "content": _compiled(body.system).render(values)})
        messages.append({"role": "user", "content": _compiled(body.template).render(values)})
    except TemplateError as exc:
        raise InvalidRequestError(f"the prompt does not render: {exc}") from None
    return messages


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    """A template compiled once (prompts are rendered on every chat turn)."""
    return _ENVIRONMENT.from_string(text)


@cache
def builtin_prompts() -> dict[str, PromptBody]:
    """genosd's own prompts as shipped, by name (config-review, config-generate, diff-summary,
    incident-summary, show-explain)."""
    found = {}
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        found[path.stem] = PromptBody.model_validate(yaml.safe_load(path.read_text()) or {})
    return found


def supplied_variables(name: str) -> set[str]:
    """The variables genosd's feature supplies to its prompt `name` (empty if not genosd's)."""
    body = builtin_prompts().get(name)
    return set(body.variables) if body else set()


# A prompt library's lookup: (active version number, its body) of a prompt, or None.
PromptSource = Callable[[str], "tuple[int, PromptBody] | None"]


@dataclass(frozen=True)
class ResolvedPrompt:
    """The messages a feature sends, which prompt version made them, and why not another."""

    name: str
    origin: str  # "config-review v3" (the library) or "config-review (built-in)"
    kind: PromptKind
    messages: list[dict[str, str]]
    output_schema: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


class PromptBook:
    """Where genosd's features get their prompts: the library's active version, else built-in."""

    def __init__(self, source: PromptSource | None = None):
        self.source = source
        self.loader: Callable[[], PromptSource | None] | None = None  # finds a source lazily

    def _source(self) -> PromptSource | None:
        if self.source is None and self.loader is not None:
            loader, self.loader = self.loader, None
            self.source = loader()
        return self.source

    async def resolve(self, name: str, variables: dict[str, Any]) -> ResolvedPrompt:
        """The messages of prompt `name` with `variables` (the feature's own text as a last
        resort, so a broken library version never stops a feature); a prompt only the library
        has (an agent's) must render, NotFoundError when nobody has it."""
        builtin = builtin_prompts().get(name)
        notes: list[str] = []
        source = self._source()
        if source is not None:
            try:
                found = await asyncio.to_thread(source, name)
            except Exception as exc:  # a plugin's failure is reported, never fatal here
                found = None
                notes.append(f"the prompt library failed ({type(exc).__name__}: {exc})")
            if found is not None:
                version, body = found
                try:
                    messages = render(body, variables)
                except InvalidRequestError as exc:
                    if builtin is None:
                        raise
                    notes.append(
                        f"prompt {name} v{version} cannot be used ({exc}); the built-in text was used"
                    )
                else:
                    origin = f"{name} v{version}"
                    return ResolvedPrompt(
                        name, origin, body.kind, messages, body.output_schema, notes
                    )
        if builtin is None:
            raise NotFoundError(f"no prompt {name!r}" + (f" ({notes[0]})" if notes else ""))
        for note in notes:
            log.warning("%s", note)
        return ResolvedPrompt(
            name,
            f"{name} (built-in)",
            builtin.kind,
            render(builtin, variables),
            builtin.output_schema,
            notes,
        )
