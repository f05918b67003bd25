"""Alert rules: YAML files of thresholds and states over live metrics and matches over events.

A rule says `when` it holds (one of the conditions below), how long it must hold (`for`), how
bad it is (`severity`), which labels tell one alert of the rule from another (`key`), extra
`labels`, and a `summary` with `{label}` placeholders. Conditions:

* `device_down` — the device does not answer (SNMP, or SSH for SSH-only devices);
* `metric` — a field of a measurement `above`/`below`/`equals`/`not_equals` a value, per series,
  optionally only where other fields have given values (`where`) and tags match globs (`tags`);
* `flapping` — a field changed at least `changes` times within `window` (interface status);
* `backup_failing` — the device's newest config backup failed;
* `spool_growing` — the metrics spool holds more than `points` points not yet in the database;
* `event` — a syslog message, trap or core alert whose fields match (`match`, globs), optionally
  `count` times within `window`; it resolves on a matching `resolve` event with the same `same`
  fields, or after `resolve_after`.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from genosd.errors import ConfigError
from genosd.yamlfile import describe_validation_error, load_yaml, yaml_files

BUILTIN = Path(__file__).with_name("rules.yaml")
SEVERITIES = ("critical", "major", "minor", "warning", "info")  # worst first
Severity = Literal["critical", "major", "minor", "warning", "info"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any) -> Any:
    """`90`, `"90s"`, `"5m"`, `"2h"`, `"1d"` as seconds (anything else left to validation)."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    return value


Duration = Annotated[float, BeforeValidator(seconds), Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )


class Rule(_Model):
    """One alert rule."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    when: Literal["device_down", "metric", "flapping", "backup_failing", "spool_growing", "event"]
    description: str = ""
    severity: Severity = "warning"
    for_: Duration = Field(0.0, alias="for")
    key: list[str] = Field(default_factory=list, description="labels that tell alerts apart")
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str = ""
    enabled: bool = True
    # metric and flapping
    measurement: str | None = None
    field: str | list[str] | None = None
    above: float | None = None
    below: float | None = None
    equals: float | str | None = None
    not_equals: float | str | None = None
    where: dict[str, float | str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    changes: int = Field(3, ge=2)
    window: Duration = 600.0
    # spool_growing
    points: int = Field(10_000, ge=1)
    # event
    source: Literal["syslog", "traps", "alert"] | None = None
    match: dict[str, str] = Field(default_factory=dict)
    count: int = Field(1, ge=1)
    resolve: dict[str, str] = Field(default_factory=dict)
    same: list[str] = Field(default_factory=list)
    resolve_after: Duration | None = None

    @field_validator("field")
    @classmethod
    def _fields_named(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            raise ValueError("name at least one field")
        return value

    @model_validator(mode="after")
    def _condition_complete(self) -> Rule:
        tests = [t for t in (self.above, self.below, self.equals, self.not_equals) if t is not None]
        if self.when == "metric":
            if not self.measurement or not self.field:
                raise ValueError("a metric rule needs measurement and field")
            if len(tests) != 1:
                raise ValueError("a metric rule needs one of above, below, equals, not_equals")
        elif self.when == "flapping":
            if not self.measurement or not isinstance(self.field, str):
                raise ValueError("a flapping rule needs measurement and one field")
        elif self.when == "event":
            if self.source is None or not self.match:
                raise ValueError("an event rule needs source and match")
            if not self.resolve and self.resolve_after is None:
                raise ValueError("an event rule needs resolve (a matching event) or resolve_after")
        if self.when != "metric" and tests:
            raise ValueError("above/below/equals/not_equals belong to metric rules")
        return self

    @property
    def fields(self) -> list[str]:
        """The fields a metric rule tests (any of them)."""
        if self.field is None:
            return []
        return [self.field] if isinstance(self.field, str) else list(self.field)

    def holds(self, value: float | str | bool) -> bool:
        """Whether a metric value meets the rule's test."""
        if self.equals is not None:
            return _same(value, self.equals)
        if self.not_equals is not None:
            return not _same(value, self.not_equals)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.above is not None:
            return value > self.above
        return self.below is not None and value < self.below

    def wants_tags(self, tags: dict[str, str]) -> bool:
        """Whether a series' tags match the rule's tag globs."""
        return all(fnmatch.fnmatchcase(tags.get(k, ""), glob) for k, glob in self.tags.items())

    def wants_fields(self, fields: dict[str, Any]) -> bool:
        """Whether a point's other fields have the values `where` asks for."""
        return all(k in fields and _same(fields[k], v) for k, v in self.where.items())


def _same(value: Any, wanted: float | str) -> bool:
    if isinstance(wanted, str):
        return str(value) == wanted
    return isinstance(value, int | float) and not isinstance(value, bool) and value == wanted


def matches(pattern: dict[str, str], data: dict[str, Any]) -> bool:
    """Whether every field of `pattern` (a glob) matches the same field of `data`."""
    for name, glob in pattern.items():
        value = data.get(name)
        if value is None or not fnmatch.fnmatchcase(str(value), glob):
            return False
    return True


_RULES = TypeAdapter(list[Rule])


def load_rules(paths: list[Path], *, builtin: bool = True) -> list[Rule]:
    """The built-in rules (unless `builtin` is off) overridden by name by the rules in `paths`
    (files or directories of *.yaml); ConfigError naming file:line:field on any problem."""
    rules: dict[str, Rule] = {}
    sources = ([BUILTIN] if builtin else []) + yaml_files(
        paths, error=ConfigError, what="alert rules"
    )
    problems: list[str] = []
    for path in sources:
        document = load_yaml(path)
        try:
            loaded = _RULES.validate_python(document.data or [])
        except ValidationError as exc:
            problems.extend(describe_validation_error(exc, [document]))
            continue
        seen: set[str] = set()
        for index, rule in enumerate(loaded):
            if rule.name in seen:
                problems.append(f"{document.where((index, 'name'))}: rule {rule.name!r} twice")
            seen.add(rule.name)
            rules[rule.name] = rule
    if problems:
        raise ConfigError("invalid alert rules", problems=problems)
    return [rule for rule in rules.values() if rule.enabled]
