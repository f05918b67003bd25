"""Typed variables given as text or JSON (playbook `--var`, API bodies, prompt test runs): each
value converted to its declared type, defaults filled, every problem named at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class VariableSpec(Protocol):
    """What a declared variable says about itself."""

    @property
    def type(self) -> str:
        """str | text | int | float | bool | list."""

    @property
    def required(self) -> bool:
        """Whether a run must give it (when it has no default)."""

    @property
    def default(self) -> Any:
        """Its value when not given."""


def convert(kind: str, value: Any) -> Any:
    """`value` as `kind`; ValueError or TypeError when it is not one."""
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if kind == "list" and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if kind in ("str", "text") and not isinstance(value, str):
        return str(value)
    return value


def coerce(
    specs: Mapping[str, VariableSpec], given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The values of `specs` from `given` (typed, defaults filled), and the problems: unknown
    names, required ones missing (no default), values not of their type."""
    problems = [f"unknown variable {name!r}" for name in sorted(set(given) - set(specs))]
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in given:
            if spec.required and spec.default is None:
                problems.append(f"variable {name!r} is required")
            values[name] = spec.default
            continue
        try:
            values[name] = convert(spec.type, given[name])
        except (TypeError, ValueError):
            problems.append(f"variable {name!r}: {given[name]!r} is not a {spec.type}")
            values[name] = given[name]
    return values, problems
