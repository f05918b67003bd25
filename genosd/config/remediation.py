"""Remediation: the exact commands that take a device from running to intended (hier_config).

Only top-level lines that one of the rendered features owns (platforms.yaml `features`) are
compared, so a template for NTP never removes the device's usernames. The approval of a deploy is
bound to `sha256`, the hash of the exact command text that would be sent.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass

from hier_config import HConfig, WorkflowRemediation, get_hconfig

from genosd.config.normalize import strip_volatile
from genosd.config.structure import hier_platform
from genosd.platforms import Platform


def scoped(platform: Platform, features: list[str] | None, text: str) -> HConfig:
    """The config's top-level blocks owned by `features` (None: all of it), as a hier_config tree."""
    full = get_hconfig(hier_platform(platform), strip_volatile(platform, text))
    if features is None:
        return full
    owners = [platform.scope_re[f] for f in features if f in platform.scope_re]
    tree = get_hconfig(hier_platform(platform))
    for child in full.children:
        if any(owner.search(child.text) for owner in owners):
            tree.add_deep_copy_of(child)
    return tree


def unowned_lines(platform: Platform, features: list[str], text: str) -> list[tuple[int, str]]:
    """(line number, line) of top-level intended lines no feature owns: they would never be pushed."""
    owners = [platform.scope_re[f] for f in features if f in platform.scope_re]
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
        and not line[0].isspace()
        and not line.startswith(("!", "#", "end"))
        and not any(owner.search(line) for owner in owners)
    ]


@dataclass(frozen=True)
class Remediation:
    """The commands to converge one device, their rollback, and a readable diff."""

    device: str
    commands: tuple[str, ...]
    rollback: tuple[str, ...]
    diff: tuple[str, ...]

    @property
    def text(self) -> str:
        """The commands exactly as they will be sent, one per line."""
        return "".join(f"{line}\n" for line in self.commands)

    @property
    def sha256(self) -> str:
        """What an approval is bound to: the hash of the exact command text."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def empty(self) -> bool:
        """Whether the device already matches its intended config."""
        return not self.commands


def remediate(
    platform: Platform, features: list[str] | None, device: str, running: str, intended: str
) -> Remediation:
    """Commands from `running` to `intended` over the owned scope (None: all), rollback and diff."""
    have = scoped(platform, features, running)
    want = scoped(platform, features, intended)
    flow = WorkflowRemediation(have, want)
    diff = tuple(
        difflib.unified_diff(
            list(have.dump_simple()), list(want.dump_simple()), "running", "intended", lineterm=""
        )
    )
    return Remediation(
        device=device,
        commands=tuple(flow.remediation_config.dump_simple()),
        rollback=tuple(flow.rollback_config.dump_simple()),
        diff=diff,
    )
