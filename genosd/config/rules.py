"""Compliance rules: YAML files of must-contain / must-not-contain checks, scored per device.

A rule file holds `rules:`, a list of:

    id: no-telnet                      # unique across all files
    description: VTY lines accept SSH only
    severity: critical                 # info | minor | major | critical (default major)
    platforms: [ios]                   # optional; default every platform
    roles: [access]                    # optional; matches the device's role or one of its groups
    section: '^line vty'               # optional regex: the check applies inside each such section
    must_not_contain: 'transport input .*telnet'   # exactly one of must_contain / must_not_contain
    regex: true                        # default false: a literal matches a line equal to it or
                                       # starting with it followed by a space
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genosd.config.findings import Finding, SeverityName
from genosd.errors import ConfigError
from genosd.inventory import Device
from genosd.platforms import load_platforms
from genosd.yamlfile import describe_validation_error, load_yaml


class RuleFileError(ConfigError):
    """A compliance rule file is invalid."""


class Rule(BaseModel):
    """One compliance check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = ""
    severity: SeverityName = "major"
    platforms: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    section: str | None = None
    must_contain: str | None = None
    must_not_contain: str | None = None
    regex: bool = False

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if (self.must_contain is None) == (self.must_not_contain is None):
            raise ValueError("give exactly one of must_contain and must_not_contain")
        patterns = [self.section or ""] + ([self.pattern] if self.regex else [])
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        unknown = sorted(set(self.platforms) - set(load_platforms()))
        if unknown:
            raise ValueError(f"unknown platform(s): {', '.join(unknown)}")
        return self

    @property
    def pattern(self) -> str:
        """The text the rule looks for."""
        return self.must_contain if self.must_contain is not None else self.must_not_contain or ""

    def applies_to(self, device: Device) -> bool:
        """Whether the rule covers this device (platform and role)."""
        if self.platforms and device.platform not in self.platforms:
            return False
        if not self.roles:
            return True
        return device.role in self.roles or bool(set(self.roles) & set(device.groups))


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule]


@dataclass(frozen=True)
class _Line:
    number: int
    text: str
    indent: int


def _lines(text: str) -> list[_Line]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(("!", "#")):
            continue
        out.append(_Line(number, stripped, len(raw) - len(raw.lstrip())))
    return out


def _sections(lines: list[_Line], section: re.Pattern[str]) -> list[tuple[_Line, list[_Line]]]:
    """Each line matching `section` with the lines indented below it."""
    found = []
    for index, line in enumerate(lines):
        if section.search(line.text):
            children = []
            for child in lines[index + 1 :]:
                if child.indent <= line.indent:
                    break
                children.append(child)
            found.append((line, children))
    return found


@dataclass(frozen=True)
class RuleSet:
    """Every loaded rule, in file order."""

    rules: tuple[Rule, ...]

    def check(self, device: Device, text: str) -> tuple[list[Finding], int, int]:
        """(findings, rules that apply, rules passed) for one rendered or running config."""
        lines = _lines(text)
        findings: list[Finding] = []
        applied = passed = 0
        for rule in self.rules:
            if not rule.applies_to(device):
                continue
            applied += 1
            found = _check(rule, lines)
            findings.extend(found)
            passed += not found
        return findings, applied, passed


def _matcher(rule: Rule) -> re.Pattern[str]:
    if rule.regex:
        return re.compile(rule.pattern)
    return re.compile(rf"^{re.escape(rule.pattern)}(?: |$)")


def _check(rule: Rule, lines: list[_Line]) -> list[Finding]:
    matcher = _matcher(rule)
    scopes: list[tuple[_Line | None, list[_Line]]]
    if rule.section is not None:
        scopes = list(_sections(lines, re.compile(rule.section)))
        if not scopes:
            if rule.must_contain is None:
                return []
            return [_finding(rule, None, f"no section matching {rule.section!r}")]
    else:
        scopes = [(None, lines)]
    findings = []
    for parent, body in scopes:
        hits = [line for line in body if matcher.search(line.text)]
        where = f" in {parent.text!r}" if parent else ""
        if rule.must_contain is not None and not hits:
            findings.append(_finding(rule, parent, f"missing {rule.pattern!r}{where}"))
        if rule.must_not_contain is not None:
            findings.extend(
                _finding(rule, hit, f"forbidden {rule.pattern!r}{where}") for hit in hits
            )
    return findings


def _finding(rule: Rule, line: _Line | None, problem: str) -> Finding:
    message = f"{rule.description}: {problem}" if rule.description else problem
    return Finding(
        layer="rules",
        rule=rule.id,
        severity=rule.severity,
        message=message,
        line=line.number if line else None,
        text=line.text if line else None,
    )


def load_rules(paths: Iterable[Path]) -> RuleSet:
    """Rules from YAML files (a directory means its *.yaml); errors name file, line and field."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
        elif path.exists():
            files.append(path)
        else:
            raise RuleFileError("no such rule file or directory", source=str(path))
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
