"""Structure validation: the rendered config parses for its platform (hier_config) and is sane."""

from __future__ import annotations

import re

from hier_config import HConfig, Platform, get_hconfig

from genosd.config.findings import Finding
from genosd.platforms import Platform as GenosdPlatform

_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}")


def hier_platform(platform: GenosdPlatform) -> Platform:
    """hier_config's platform for one of ours (platforms.yaml names it)."""
    return Platform[platform.hier_config.upper()]


def parse(platform: GenosdPlatform, text: str) -> HConfig:
    """The config as a hier_config tree."""
    return get_hconfig(hier_platform(platform), text)


def check_structure(platform: GenosdPlatform, text: str) -> list[Finding]:
    """Findings for a config that does not parse, is empty, or carries template debris."""
    findings: list[Finding] = []
    if not text.strip():
        return [
            Finding(
                layer="structure",
                rule="empty",
                severity="critical",
                message="the rendered config is empty",
            )
        ]
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if "\t" in line:
            findings.append(
                Finding(
                    layer="structure",
                    rule="tab",
                    severity="major",
                    line=number,
                    text=line,
                    message="tab character (devices expect spaces)",
                )
            )
        if _LEFTOVER.search(line):
            findings.append(
                Finding(
                    layer="structure",
                    rule="template-debris",
                    severity="critical",
                    line=number,
                    text=line,
                    message="template syntax left in the rendered config",
                )
            )
    first = next(n for n, line in enumerate(lines, 1) if line.strip())  # text is not blank
    if lines[first - 1].startswith((" ", "\t")):
        findings.append(
            Finding(
                layer="structure",
                rule="orphan-child",
                severity="critical",
                line=first,
                text=lines[first - 1],
                message="indented line with no parent section",
            )
        )
    try:
        tree = parse(platform, text)
    except Exception as exc:
        findings.append(
            Finding(
                layer="structure",
                rule="parse",
                severity="critical",
                message=f"does not parse as {platform.name}: {exc}",
            )
        )
        return findings
    if not tuple(tree.children):
        findings.append(
            Finding(
                layer="structure",
                rule="parse",
                severity="critical",
                message=f"no {platform.name} config lines found",
            )
        )
    return findings
