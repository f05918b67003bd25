"""Restore: an old stored version as the intended config, its masked secrets taken from the live one.

History keeps configs with secrets masked, so a stored version cannot be pushed as it is. A line
with a secret token is matched, within its parent section, to the live line that masks to the same
text (tokens compared as equal: the secret may have been rotated since), and the live line is used: a restore never changes a secret, it keeps the current one. A
masked line with no live counterpart cannot be restored; it (and its children) is left out and
reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genosd.config.normalize import strip_volatile
from genosd.config.secrets import TOKEN_RE, Masker, generic, with_parents


@dataclass(frozen=True)
class Restored:
    """The config to converge to, and the stored lines whose secret is not on the device."""

    text: str
    unresolved: list[tuple[int, str]] = field(default_factory=list)


def _sections(text: str) -> list[tuple[str, str]]:
    """(parent top-level line or '', line) for each line, as the device indents them."""
    return [
        ("" if line and not line[0].isspace() else parent or "", line)
        for parent, line in with_parents(text.split("\n"))
    ]


def unmask(masker: Masker, stored: str, running: str) -> Restored:
    """`stored` (a history version) with each masked line replaced by its live line."""
    platform = masker.platform
    live: dict[tuple[str, str], str] = {}
    masked_parent = ""
    for parent, line in _sections(strip_volatile(platform, running)):
        masked = generic(masker.line(line, parent or line)[0])
        if not parent:
            masked_parent = masked  # children follow their parent: mask it once
        live.setdefault(("" if not parent else masked_parent, masked), line)
    kept: list[str] = []
    unresolved: list[tuple[int, str]] = []
    dropped_parent = None
    for number, (parent, line) in enumerate(_sections(strip_volatile(platform, stored)), start=1):
        if parent and parent == dropped_parent:
            unresolved.append((number, line))  # a child of a section that cannot be restored
        elif not TOKEN_RE.search(line):
            kept.append(line)
        elif (found := live.get((generic(parent), generic(line)))) is not None:
            kept.append(found)
        else:
            unresolved.append((number, line))
            dropped_parent = None if parent else line
    return Restored("\n".join(kept), unresolved)
