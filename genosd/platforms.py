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
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from genosd.errors import ConfigError
from genosd.readonly import KNOWN_READ_VERBS, READ_VERBS, read_only_problem

PLATFORMS_FILE = Path(__file__).with_name("platforms.yaml")


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


# shorthands in secret patterns: an optional encryption type, a value (quoted or one word), the
# rest of the line (for passwords a platform allows to contain spaces)
SECRET_MACROS = {
    "<T>": r"(?: (?:[0-9]|sha512))?",
    "<V>": r'(?P<secret>"[^"]*"|[^\s"]+)',
    "<R>": r"(?P<secret>\S(?:.*\S)?)",
}


def expand_secret_pattern(pattern: str) -> str:
    """A secret pattern with its shorthands written out."""
    for macro, regex in SECRET_MACROS.items():
        pattern = pattern.replace(macro, regex)
    return pattern


class SecretRule(BaseModel):
    """Where a secret stands: `match` has a group named "secret"; `within` limits it to a section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str
    within: str | None = None  # regex of the top-level line the rule applies under

    @field_validator("match")
    @classmethod
    def _secret_group(cls, pattern: str) -> str:
        if "secret" not in _compile(expand_secret_pattern(pattern)).groupindex:
            raise ValueError(f"secret pattern {pattern!r} has no group named 'secret'")
        return pattern

    @field_validator("within")
    @classmethod
    def _within(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            _compile(pattern)
        return pattern


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
    # every secret-bearing line form (genosd/config/secrets.py masks them)
    secrets: tuple[SecretRule, ...] = ()
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
    # what a read-only command may start with here (playbook `show` steps, the show_command tool)
    read_verbs: tuple[str, ...] = READ_VERBS
    # troubleshooting commands by kind (ping, traceroute, arp, mac, route, counters, bgp, ospf);
    # `{target}` is filled with a validated argument, and each must be read-only here
    lookups: dict[str, str] = {}

    @field_validator("read_verbs")
    @classmethod
    def _verbs(cls, verbs: tuple[str, ...]) -> tuple[str, ...]:
        for verb in verbs:
            if " ".join(verb.lower().split()) not in KNOWN_READ_VERBS:
                raise ValueError(
                    f"{verb!r} is not a verb genosd knows to be read-only "
                    f"({', '.join(sorted(KNOWN_READ_VERBS))})"
                )
        return verbs

    @model_validator(mode="after")
    def _lookups_read_only(self) -> Platform:
        for kind, command in self.lookups.items():
            problem = read_only_problem(command.replace("{target}", "x"), self.read_verbs)
            if problem is not None:
                raise ValueError(f"lookups.{kind}: {problem}")
        return self

    @field_validator("config_error")
    @classmethod
    def _regex(cls, pattern: str) -> str:
        _compile(pattern)
        return pattern

    @field_validator("secrets", mode="before")
    @classmethod
    def _secret_rules(cls, rules: Any) -> Any:
        if not isinstance(rules, list | tuple):
            return rules
        return tuple({"match": r} if isinstance(r, str) else r for r in rules)

    @field_validator("volatile")
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
    def secret_anchored(self) -> tuple[bool, ...]:
        """For each secret pattern, whether it matches only at the start of a line."""
        return tuple(pattern.pattern.startswith("^") for pattern, _ in self.secret_res)

    @functools.cached_property
    def secret_res(self) -> tuple[tuple[re.Pattern[str], re.Pattern[str] | None], ...]:
        """The compiled secret patterns, each with the section it is limited to (or None)."""
        return tuple(
            (
                re.compile(expand_secret_pattern(rule.match)),
                None if rule.within is None else re.compile(rule.within),
            )
            for rule in self.secrets
        )

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


def read_verbs(name: str | None) -> tuple[str, ...]:
    """What a read-only command may start with on platform `name` (the default verbs when the
    platform is unknown)."""
    known = load_platforms().get(name or "")
    return known.read_verbs if known is not None else READ_VERBS
