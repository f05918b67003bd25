"""A prompt as a versioned record: the core's prompt body (template, typed variables, task kind,
answer schema, tags) with its name and bookkeeping."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from genosd.plugin import (
    InvalidRequestError,
    PromptBody,
    PromptVariable,
    json_schema,
    render_prompt,
    supplied_variables,
)

NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
render = render_prompt
__all__ = [
    "NAME",
    "PromptBody",
    "PromptVariable",
    "PromptVersion",
    "check_name",
    "check_usable",
    "json_schema",
    "render",
    "validated",
]


class PromptVersion(PromptBody):
    """One stored version of a prompt."""

    name: str = Field(pattern=NAME)
    version: int = Field(ge=1, le=1_000_000_000)
    author: str
    created_at: float
    note: str = ""
    active: bool = False


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, what: str) -> M:
    """`data` as a `model`; InvalidRequestError naming `what` and the first wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequestError(f"{what}: {where}: {first['msg']}") from None


def check_name(name: str) -> None:
    """InvalidRequestError unless `name` is a usable prompt name."""
    if not re.match(NAME, name):
        raise InvalidRequestError(f"{name!r} is not a prompt name (a-z 0-9 . _ -, 64 at most)")


def check_usable(name: str, body: PromptBody) -> None:
    """InvalidRequestError when `name` is one of genosd's prompts and `body` needs a variable
    that genosd's feature does not supply (the feature would fall back to its built-in text)."""
    supplied = supplied_variables(name)
    if not supplied:
        return
    needed = {n for n, v in body.variables.items() if v.required and v.default is None}
    missing = sorted(needed - supplied)
    if missing:
        raise InvalidRequestError(
            f"prompt {name!r} is genosd's own: its feature supplies {', '.join(sorted(supplied))};"
            f" {', '.join(missing)} would need a default or required: false"
        )
