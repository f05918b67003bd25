"""Structured events (link, BGP, OSPF, config change, login failure) in syslog message text.

The catalogue is data (events.yaml beside this module, plus a user file): each entry a literal
that every such message contains (a substring test, cheap enough to try every entry) and a regex
whose named groups become the event's fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from genosd.errors import ConfigError
from genosd.yamlfile import describe_validation_error, load_yaml

BUILTIN = Path(__file__).with_name("events.yaml")
FIELDS = ("interface", "neighbor", "vrf", "user", "address", "state", "reason", "asn")


class EventPattern(BaseModel):
    """One catalogue entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    platforms: list[str] = Field(default_factory=list)
    contains: str = Field(min_length=1)
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        unknown = set(compiled.groupindex) - set(FIELDS)
        if unknown:
            raise ValueError(
                f"named groups {sorted(unknown)} are not event fields ({', '.join(FIELDS)})"
            )
        return pattern


_CATALOGUE = TypeAdapter(list[EventPattern])


@dataclass(frozen=True, slots=True)
class _Compiled:
    kind: str
    platform: str | None
    contains: str
    regex: re.Pattern[str]


class Classifier:
    """Names the event in a message's text, if the catalogue knows it."""

    def __init__(self, entries: list[EventPattern]):
        compiled = [
            _Compiled(
                e.kind,
                e.platforms[0] if len(e.platforms) == 1 else None,
                e.contains,
                re.compile(e.pattern),
            )
            for e in entries
        ]
        # entries grouped by their literal: each literal is looked for once per message
        self._by_literal: dict[str, list[tuple[int, _Compiled]]] = {}
        for number, entry in enumerate(compiled):
            self._by_literal.setdefault(entry.contains, []).append((number, entry))

    @classmethod
    def load(cls, extra: Path | None = None) -> Classifier:
        """The built-in catalogue, after the entries of `extra` (a user's file goes first)."""
        entries = load_catalogue(extra) if extra is not None else []
        return cls(entries + load_catalogue(BUILTIN))

    def classify(self, text: str) -> dict[str, Any] | None:
        """`{"kind": …, fields…}` for the first entry that matches `text`, else None."""
        candidates = [
            found
            for literal, entries in self._by_literal.items()
            if literal in text
            for found in entries
        ]
        if len(candidates) > 1:
            candidates.sort(key=lambda found: found[0])  # the catalogue's first entry wins
        for _, entry in candidates:
            match = entry.regex.search(text)
            if match is None:
                continue
            event: dict[str, Any] = {"kind": entry.kind}
            if entry.platform:
                event["platform"] = entry.platform
            for name, value in match.groupdict().items():
                if value:
                    event[name] = value.strip()
            return event
        return None


def load_catalogue(path: Path) -> list[EventPattern]:
    """Entries of one catalogue file; ConfigError naming file:line:field when one is wrong."""
    document = load_yaml(path)
    try:
        return _CATALOGUE.validate_python(document.data or [])
    except ValidationError as exc:
        problems = describe_validation_error(exc, [document])
        raise ConfigError(
            "invalid syslog event catalogue", source=str(path), problems=problems
        ) from None
