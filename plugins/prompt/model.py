"""A prompt as a versioned record: its template (Jinja2, sandboxed, strict), typed variables,
task kind, optional output schema, tags; and rendering it with checked variables."""

from __future__ import annotations

import re
from typing import Any, Literal

import jsonschema
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genosd.plugin import InvalidRequestError, coerce_variables

Kind = Literal["chat", "generate", "review", "summary", "classify", "embed"]
_ENVIRONMENT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


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
    """What a version holds (everything but its name and bookkeeping)."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=1000)
    kind: Kind = "chat"
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


class PromptVersion(PromptBody):
    """One stored version of a prompt."""

    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    author: str
    created_at: float
    note: str = ""
    active: bool = False


def coerce(body: PromptBody, given: dict[str, Any]) -> dict[str, Any]:
    """The variables for a render: typed as declared, defaults filled; InvalidRequestError
    naming every problem."""
    values, problems = coerce_variables(body.variables, given)
    if problems:
        raise InvalidRequestError("; ".join(problems))
    return values


def render(body: PromptBody, given: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages of a version with `given` variables (InvalidRequestError if a variable
    is missing, mistyped or the template uses one that is not declared)."""
    values = coerce(body, given)
    try:
        messages = []
        if body.system:
            messages.append(
                {"role": "system", "content": _ENVIRONMENT.from_string(body.system).render(values)}
            )
        messages.append(
            {"role": "user", "content": _ENVIRONMENT.from_string(body.template).render(values)}
        )
    except TemplateError as exc:
        raise InvalidRequestError(f"the prompt does not render: {exc}") from None
    return messages
