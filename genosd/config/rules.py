r"""Compliance rules: YAML files of checks with the platform's defaults and scopes, scored per device.

A rule file holds `rules:`, a list of:

    id: ios-vty-ssh-only               # unique across all files
    description: VTY lines accept SSH only
    severity: critical                 # info | minor | major | critical (default major)
    platforms: [ios]                   # optional; default every platform
    roles: [access]                    # optional; matches the device's role or one of its groups
    rationale: Telnet sends credentials in clear text.
    remediation: "line vty 0 15\n transport input ssh"
    references: ["CIS Cisco IOS XE 17 1.2.4", "DISA STIG CISC-ND-001000"]
    section: '^line vty'               # optional regex: checked in each such section
    if_absent: pass                    # a section that is not there: pass (the platform's default
                                       # is secure) or fail; default fail for must_contain
                                       # without `when`/`unless`
    when: 'switchport mode access'     # optional regexes on a section's lines: it is checked only
    unless: 'shutdown'                 # when one line matches / unless one line matches
    when_config: '^ntp server'         # optional regexes on the whole config: the rule applies
    unless_config: '^no cdp run'       # only when / unless one line matches
    for_each: '^neighbor (\S+) remote-as'   # optional: one check per captured value; {1} in
                                       # must_contain/must_not_contain/when/unless is that value
    must_not_contain: 'transport input .*telnet'   # exactly one of must_contain / must_not_contain
    regex: true                        # default false: a literal matches a line equal to it or
                                       # starting with it followed by a space

Lines are compared stripped of their indentation; comments (`!`, `#`) and blank lines are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genosd.config.findings import Finding, SeverityName
from genosd.config.scopes import (
    Line,
    ParsedConfig,
    Scope,
    Sections,
    parse_config,
    pattern_key,
    per_text,
)
from genosd.errors import ConfigError
from genosd.inventory import Device
from genosd.platforms import load_platforms
from genosd.yamlfile import describe_validation_error, load_yaml, yaml_files


class RuleFileError(ConfigError):
    """A compliance rule file is invalid."""


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


class Rule(BaseModel):
    """One compliance check."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = ""
    severity: SeverityName = "major"
    platforms: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    rationale: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    section: str | None = None
    if_absent: Literal["pass", "fail"] | None = None
    when: str | None = None
    unless: str | None = None
    when_config: str | None = None
    unless_config: str | None = None
    for_each: str | None = None
    must_contain: str | None = None
    must_not_contain: str | None = None
    regex: bool = False

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if (self.must_contain is None) == (self.must_not_contain is None):
            raise ValueError("give exactly one of must_contain and must_not_contain")
        for pattern in (self.section, self.when, self.unless, self.when_config, self.unless_config):
            if pattern is not None:
                _compile(pattern.replace("{1}", "x"))
        if self.for_each is not None and _compile(self.for_each).groups < 1:
            raise ValueError(f"for_each {self.for_each!r} needs a group to capture")
        if self.regex:
            _compile(self.pattern.replace("{1}", "x"))
        if self.if_absent is not None and self.section is None:
            raise ValueError("if_absent needs a section")
        unknown = sorted(set(self.platforms) - set(load_platforms()))
        if unknown:
            raise ValueError(f"unknown platform(s): {', '.join(unknown)}")
        return self

    @property
    def pattern(self) -> str:
        """The text the rule looks for."""
        return self.must_contain if self.must_contain is not None else self.must_not_contain or ""

    @property
    def passes_when_absent(self) -> bool:
        """Whether a config without the rule's section passes it."""
        if self.if_absent is not None:
            return self.if_absent == "pass"
        # a rule about some sections only (`when`, `unless`) has nothing to check without them
        return self.must_contain is None or self.when is not None or self.unless is not None

    def applies_to(self, device: Device) -> bool:
        """Whether the rule covers this device (platform and role)."""
        if self.platforms and device.platform not in self.platforms:
            return False
        if not self.roles:
            return True
        return device.role in self.roles or bool(set(self.roles) & set(device.groups))

    @cached_property
    def compiled(self) -> _Compiled:
        """The rule's regexes, compiled once."""
        return _Compiled.of(self)


@dataclass(frozen=True)
class _Compiled:
    """A rule ready to run: regexes and the index keys of the lines they can match."""

    matcher: re.Pattern[str] | None  # None: the pattern holds {1}, made per for_each value
    key: str | None
    section: re.Pattern[str] | None
    section_key: str | None
    when: re.Pattern[str] | None
    unless: re.Pattern[str] | None
    when_config: re.Pattern[str] | None
    when_config_key: str | None
    unless_config: re.Pattern[str] | None
    unless_config_key: str | None
    for_each: re.Pattern[str] | None
    for_each_key: str | None
    # the same, for one search over a section's joined lines (None: try line by line)
    matcher_text: re.Pattern[str] | None
    when_text: re.Pattern[str] | None
    unless_text: re.Pattern[str] | None

    @property
    def all_sections_at_once(self) -> bool:
        """Whether every pattern can be one search over all the sections' joined text."""
        return (
            self.matcher_text is not None
            and (self.when is None or self.when_text is not None)
            and (self.unless is None or self.unless_text is not None)
        )

    @classmethod
    def of(cls, rule: Rule) -> _Compiled:
        def optional(pattern: str | None) -> re.Pattern[str] | None:
            return None if pattern is None or "{1}" in pattern else re.compile(pattern)

        def key(pattern: str | None, regex: bool = True) -> str | None:
            return None if pattern is None else pattern_key(pattern, regex=regex)

        templated = "{1}" in rule.pattern
        return cls(
            matcher=None if templated else _matcher(rule.pattern, rule.regex),
            key=key(rule.pattern, rule.regex),
            section=optional(rule.section),
            section_key=key(rule.section),
            when=optional(rule.when),
            unless=optional(rule.unless),
            when_config=optional(rule.when_config),
            when_config_key=key(rule.when_config),
            unless_config=optional(rule.unless_config),
            unless_config_key=key(rule.unless_config),
            for_each=optional(rule.for_each),
            for_each_key=key(rule.for_each),
            matcher_text=None if templated else _text_matcher(rule.pattern, rule.regex),
            when_text=None if rule.when is None or "{1}" in rule.when else per_text(rule.when),
            unless_text=(
                None if rule.unless is None or "{1}" in rule.unless else per_text(rule.unless)
            ),
        )


def _matcher(pattern: str, regex: bool) -> re.Pattern[str]:
    if regex:
        return re.compile(pattern)
    return re.compile(rf"^{re.escape(pattern)}(?: |$)")


def _text_matcher(pattern: str, regex: bool) -> re.Pattern[str] | None:
    if regex:
        return per_text(pattern)
    return per_text(rf"^{re.escape(pattern)}(?: |$)")


def _with_value(pattern: str, value: str, regex: bool) -> str:
    return pattern.replace("{1}", re.escape(value) if regex else value)


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]


@dataclass(frozen=True)
class RuleSet:
    """Every loaded rule, in file order."""

    rules: tuple[Rule, ...]
    _covering: dict[tuple[str | None, str | None, tuple[str, ...]], tuple[Rule, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def covering(self, device: Device) -> tuple[Rule, ...]:
        """The rules for this device's platform and role, found once per kind of device."""
        kind = (device.platform, device.role, device.groups)
        found = self._covering.get(kind)
        if found is None:
            found = self._covering[kind] = tuple(r for r in self.rules if r.applies_to(device))
        return found

    def check(self, device: Device, text: str) -> tuple[list[Finding], int, int]:
        """(findings, rules that apply, rules passed) for one rendered or running config."""
        parsed = parse_config(text)
        findings: list[Finding] = []
        applied = passed = 0
        for rule in self.covering(device):
            if not _config_applies(rule, parsed):
                continue
            applied += 1
            found = _check(rule, parsed)
            findings.extend(found)
            passed += not found
        return findings, applied, passed


def _any(pattern: re.Pattern[str] | None, config: ParsedConfig, positions: Iterable[int]) -> bool:
    texts = config.texts
    return pattern is not None and any(pattern.search(texts[position]) for position in positions)


def _config_applies(rule: Rule, parsed: ParsedConfig) -> bool:
    compiled, whole = rule.compiled, parsed.whole
    if compiled.when_config is not None and not _any(
        compiled.when_config, parsed, whole.with_key(compiled.when_config_key)
    ):
        return False
    return not _any(compiled.unless_config, parsed, whole.with_key(compiled.unless_config_key))


def _check(rule: Rule, parsed: ParsedConfig) -> list[Finding]:
    compiled = rule.compiled
    if compiled.section is None:
        scopes = [parsed.whole]
    else:
        sections = parsed.sections(compiled.section, compiled.section_key)
        if not sections.headers:
            if rule.passes_when_absent:
                return []
            return [_finding(rule, None, f"no section matching {rule.section!r}")]
        if compiled.for_each is None and compiled.all_sections_at_once:
            return _check_sections(rule, sections)
        scopes = sections.scopes
    findings = []
    for scope in scopes:
        if scope.header is not None and not _scope_selected(rule, scope):
            continue
        if compiled.for_each is None:
            findings.extend(_check_scope(rule, scope, compiled.matcher, compiled.key, ""))
            continue
        for value, first in _each(compiled, scope).items():
            if not _item_selected(rule, scope, value):
                continue
            matcher = compiled.matcher or _matcher(
                _with_value(rule.pattern, value, rule.regex), rule.regex
            )
            found = _check_scope(rule, scope, matcher, compiled.key, f" for {value}", first)
            findings.extend(found)
    return findings


def _check_sections(rule: Rule, sections: Sections) -> list[Finding]:
    """A section rule as a few searches over all the sections' joined text, not one per section."""
    compiled = rule.compiled
    assert compiled.matcher_text is not None
    selected: Iterable[int] = range(len(sections.headers))
    if compiled.when_text is not None:
        selected = sections.matching(compiled.when_text, header=True)
    if compiled.unless_text is not None:
        selected = set(selected) - sections.matching(compiled.unless_text, header=True)
    if not selected:
        return []
    hits = sections.matching(compiled.matcher_text, header=False)
    findings: list[Finding] = []
    for index in sorted(selected):
        scope = sections.scope(index)
        if rule.must_contain is not None:
            if index not in hits:
                findings.append(_missing(rule, scope, ""))
        elif index in hits:
            findings.extend(_check_scope(rule, scope, compiled.matcher, compiled.key, ""))
    return findings


def _scope_selected(rule: Rule, scope: Scope) -> bool:
    compiled = rule.compiled
    for pattern, wanted in ((compiled.when, True), (compiled.unless, False)):
        # None: absent, or holding {1} (checked per for_each value)
        if pattern is not None and _any(pattern, scope.config, scope.body()) != wanted:
            return False
    return True


def _item_selected(rule: Rule, scope: Scope, value: str) -> bool:
    """`when`/`unless` holding {1}, for one for_each value."""
    for pattern, wanted in ((rule.when, True), (rule.unless, False)):
        if pattern is not None and "{1}" in pattern:
            regex = re.compile(_with_value(pattern, value, True))
            if _any(regex, scope.config, scope.body()) != wanted:
                return False
    return True


def _each(compiled: _Compiled, scope: Scope) -> dict[str, int]:
    """The distinct values for_each captures in a scope, in order, each with its first line."""
    assert compiled.for_each is not None
    values: dict[str, int] = {}
    texts = scope.config.texts
    for position in scope.with_key(compiled.for_each_key):
        match = compiled.for_each.search(texts[position])
        if match:
            values.setdefault(match.group(1), position)
    return values


def _missing(rule: Rule, scope: Scope, item: str, anchor: int | None = None) -> Finding:
    header = scope.header_line
    where = f" in {header.text!r}" if header else ""
    line = scope.config.line(anchor) if anchor is not None else header
    return _finding(rule, line, f"missing {rule.pattern!r}{item}{where}")


def _check_scope(
    rule: Rule,
    scope: Scope,
    matcher: re.Pattern[str] | None,
    key: str | None,
    item: str,
    anchor: int | None = None,
) -> list[Finding]:
    """The findings of one scope; a missing line is reported at `anchor` (the line a for_each
    value came from) or the section header."""
    assert matcher is not None
    config, texts = scope.config, scope.config.texts
    joined = rule.compiled.matcher_text if matcher is rule.compiled.matcher else None
    if rule.must_contain is not None:
        if joined is not None and scope.header is not None:
            present = joined.search(scope.text) is not None  # one search over the section
        else:
            present = any(matcher.search(texts[position]) for position in scope.with_key(key))
        return [] if present else [_missing(rule, scope, item, anchor)]
    if joined is not None and scope.header is not None and not joined.search(scope.text):
        return []  # one search over the section says no line matches
    header = scope.header_line
    where = f" in {header.text!r}" if header else ""
    # the message names the rule's pattern, never the line: the line (`text`) may hold a secret
    return [
        _finding(rule, config.line(position), f"forbidden {rule.pattern!r}{where}")
        for position in scope.with_key(key)
        if matcher.search(texts[position])
    ]


def _finding(rule: Rule, line: Line | None, problem: str) -> Finding:
    message = f"{rule.description}: {problem}" if rule.description else problem
    return Finding(
        layer="rules",
        rule=rule.id,
        severity=rule.severity,
        message=message,
        line=line.number if line else None,
        text=line.text if line else None,
        remediation=rule.remediation or None,
        references=list(rule.references),
    )


def load_rules(paths: Iterable[Path]) -> RuleSet:
    """Rules from YAML files (a directory means its *.yaml); errors name file, line and field."""
    files = yaml_files(paths, error=RuleFileError, what="rule")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    problems: list[str] = []
    for file in files:
        doc = load_yaml(file, error=RuleFileError)
        try:
            parsed = _RuleFile.model_validate(doc.data if doc.data is not None else {"rules": []})
        except ValidationError as exc:
            problems.extend(describe_validation_error(exc, [doc]))
            continue
        for index, rule in enumerate(parsed.rules):
            if rule.id in seen:
                problems.append(
                    f"{doc.where(('rules', index, 'id'))}: rules.{index}.id: duplicate "
                    f"rule id {rule.id!r} (first in {seen[rule.id]})"
                )
                continue
            seen[rule.id] = doc.where(("rules", index, "id"))
            rules.append(rule)
    if problems:
        raise RuleFileError("invalid compliance rules", problems=problems)
    return RuleSet(tuple(rules))
