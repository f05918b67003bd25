"""A config read once for the compliance rules: its lines, their sections, and an index.

Rules look for lines by pattern, in the whole config or in each section (`interface …`, `line
vty …`, `router bgp …`). To check a hundred rules on a config in well under a millisecond, lines
are indexed by their key (the first word, two for `no`/`set`/`delete` lines) and a rule whose
pattern starts with a literal key only looks at the lines with that key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

_PREFIX_WORDS = frozenset({"no", "set", "delete", "default"})
_LITERAL = re.compile(r"[A-Za-z0-9_.:/-]+")


class Line(NamedTuple):
    """One config line, stripped, with its 1-based number, indentation and place in the config."""

    number: int
    text: str
    indent: int
    position: int  # among the config's meaningful lines


class Scope:
    """The lines a rule is checked against: a section (its header and children) or the config.

    A plain class with slots and texts joined on first use: a config with a hundred interfaces
    makes a hundred of these per section pattern, so their cost counts.
    """

    __slots__ = ("_body_text", "_index", "_text", "header", "lines")

    def __init__(self, header: Line | None, lines: list[Line]):
        self.header = header
        self.lines = lines
        self._index: dict[str, list[Line]] | None = None
        self._text: str | None = None
        self._body_text: str | None = None

    @property
    def text(self) -> str:
        """The lines (not the header) as one text, for one multi-line search."""
        if self._text is None:
            self._text = "\n".join([line.text for line in self.lines])
        return self._text

    @property
    def body(self) -> list[Line]:
        """The header and the lines."""
        return [self.header, *self.lines] if self.header is not None else self.lines

    @property
    def body_text(self) -> str:
        """The header and the lines as one text."""
        if self._body_text is None:
            head = self.header.text + "\n" if self.header is not None else ""
            self._body_text = head + self.text
        return self._body_text

    def with_key(self, key: str | None) -> list[Line]:
        """The lines whose key is `key`, or every line (unknown key, or a section: a section is
        so small that indexing it costs more than the matcher looking at every line)."""
        if key is None or self.header is not None:
            return self.lines
        if self._index is None:
            self._index = index_lines(self.lines)
        return self._index.get(key, [])


def line_key(text: str) -> str:
    """The index key of a stripped line: its first word, two after `no`/`set`/`delete`."""
    first, _, rest = text.partition(" ")
    if first in _PREFIX_WORDS and rest:
        return f"{first} {rest.partition(' ')[0]}"
    return first


def pattern_key(pattern: str, *, regex: bool) -> str | None:
    """The key every line a pattern can match has, or None when the pattern does not fix it."""
    if regex:
        if not pattern.startswith("^"):
            return None
        literal = _LITERAL.match(pattern, 1)
        if literal is None:
            return None
        words = pattern[1 : literal.end()]
        after = pattern[literal.end() : literal.end() + 2]
        if after[:1] != " " and after not in ("", "$"):
            return None  # the first word is not complete (`^snmp-serv\w+`)
        if words in _PREFIX_WORDS:
            second = _LITERAL.match(pattern, literal.end() + 1)
            if after[:1] != " " or second is None:
                return None
            end = second.end()
            if pattern[end : end + 1] not in (" ", "$", ""):
                return None
            return f"{words} {pattern[literal.end() + 1 : end]}"
        return words
    return line_key(pattern.strip())


def index_lines(lines: list[Line]) -> dict[str, list[Line]]:
    """Lines by key."""
    index: dict[str, list[Line]] = {}
    for line in lines:
        index.setdefault(line_key(line.text), []).append(line)
    return index


@dataclass
class ParsedConfig:
    """A config's meaningful lines (no blanks or comments) and its sections, built lazily."""

    lines: list[Line]
    ends: list[int]  # per line, the index after its last child
    whole: Scope
    _sections: dict[str, list[Scope]] = field(default_factory=dict, repr=False)

    def sections(self, pattern: re.Pattern[str], key: str | None) -> list[Scope]:
        """Each line matching `pattern`, with the lines indented below it."""
        cached = self._sections.get(pattern.pattern)
        if cached is not None:
            return cached
        found = [
            Scope(line, self.lines[line.position + 1 : self.ends[line.position]])
            for line in self.whole.with_key(key)
            if pattern.search(line.text)
        ]
        self._sections[pattern.pattern] = found
        return found


# what can match a line break: a pattern holding one of these is tried line by line
_CROSSES_LINES = re.compile(r"\\[sWDn]|\[\^")


def per_text(pattern: str) -> re.Pattern[str] | None:
    """`pattern` for one search over a joined text (MULTILINE), or None if it could cross lines."""
    if _CROSSES_LINES.search(pattern):
        return None
    return re.compile(pattern, re.MULTILINE)


def parse_config(text: str) -> ParsedConfig:
    """Read a config once for every rule."""
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "!#":
            continue
        lines.append(Line(number, stripped, len(raw) - len(raw.lstrip()), len(lines)))
    ends = [len(lines)] * len(lines)
    open_: list[Line] = []  # lines whose children are still being read
    for line in lines:
        while open_ and open_[-1].indent >= line.indent:
            ends[open_.pop().position] = line.position
        open_.append(line)
    return ParsedConfig(lines, ends, Scope(None, lines))
