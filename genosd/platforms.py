"""Per-platform data (genosd/platforms.yaml): driver names, commands, volatile and secret lines.

A root domain module: the inventory resolves each device's platform here once, and everything that
talks to or reasons about a device (SSH, collectors, the config lifecycle) takes the resolved
`Platform` from the device instead of looking it up again.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from genosd.errors import ConfigError

PLATFORMS_FILE = Path(__file__).with_name("platforms.yaml")


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


class Platform(BaseModel):
    """How genosd talks to one network OS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    netmiko: str
    scrapli: str
    napalm: str
    hier_config: str
    commands: dict[str, str]
    volatile: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    # feature name -> regexes of the top-level config lines that feature's template owns, in the
    # order features are rendered; remediation never touches lines no feature owns
    features: dict[str, tuple[str, ...]] = {}
    # what a device answers to a config command it refuses (a push stops and rolls back)
    config_error: str = r"% ?(Invalid input|Incomplete command|Ambiguous command|Unknown command)"
    # how pushed lines go live (genosd/config/commit.py): "none" line by line in config mode;
    # "confirmed" a candidate activated by `commit confirmed N` (Junos); "session" a configuration
    # session committed with `commit timer` (EOS) — both revert by themselves unless confirmed
    commit: Literal["none", "confirmed", "session"] = "none"
    # the library that reads the device (facts, backups); pushes always go through netmiko
    transport: Literal["netmiko", "scrapli"] = "netmiko"

    @field_validator("config_error")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        _compile(pattern)
        return pattern

    @field_validator("volatile", "secrets")
    @classmethod
    def _regexes(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            _compile(pattern)
        return patterns

    @field_validator("features")
    @classmethod
    def _feature_regexes(cls, features: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for patterns in features.values():
            for pattern in patterns:
                _compile(pattern)
        return features

    @functools.cached_property
    def config_error_re(self) -> re.Pattern[str]:
        """The compiled `config_error`."""
        return re.compile(self.config_error, re.MULTILINE)

    def refused(self, output: str) -> bool:
        """Whether a command's output is the device refusing it (not output quoting such words).

        A refusal comes right after the echoed command (IOS puts a `^` marker line first), so
        only the first lines count: a config line or description saying "syntax error" does not.
        """
        return bool(self.config_error_re.search("\n".join(output.strip().splitlines()[:3])))

    @functools.cached_property
    def volatile_re(self) -> re.Pattern[str] | None:
        """One regex matching any volatile line."""
        return re.compile("|".join(f"(?:{p})" for p in self.volatile)) if self.volatile else None

    @functools.cached_property
    def secret_res(self) -> tuple[re.Pattern[str], ...]:
        """The compiled secret patterns."""
        return tuple(re.compile(p) for p in self.secrets)

    @functools.cached_property
    def scope_re(self) -> dict[str, re.Pattern[str]]:
        """Per feature, one regex matching the top-level lines it owns."""
        return {
            name: re.compile("|".join(f"(?:{p})" for p in patterns))
            for name, patterns in self.features.items()
            if patterns
        }


@functools.cache
def load_platforms(path: Path = PLATFORMS_FILE) -> dict[str, Platform]:
    """Every known platform by name; a bad file raises ConfigError naming the entry."""
    data: Any = yaml.safe_load(path.read_text())
    platforms = {}
    for name, entry in (data or {}).items():
        try:
            platforms[name] = Platform(name=name, **entry)
        except (ValidationError, TypeError) as exc:
            raise ConfigError(f"platform {name!r} is invalid: {exc}", source=str(path)) from exc
    return platforms


def platform(name: str | None) -> Platform:
    """The platform `name`; ConfigError listing the known ones if it is unknown."""
    known = load_platforms()
    if name is None or name not in known:
        raise ConfigError(f"unknown platform {name!r}; known: {', '.join(sorted(known))}")
    return known[name]
