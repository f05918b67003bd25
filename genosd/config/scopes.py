"""A config read once for the compliance rules: its lines, their sections, and an index.

Rules look for lines by pattern, in the whole config or in each section (`interface …`, `line
vty …`, `router bgp …`). A big switch has hundreds of interfaces, so nothing here makes a Python
object per line: lines are columns (texts, numbers), a section is a range of positions, lines are
indexed by their key (the first word, two for `no`/`set`/`delete` lines) so a rule whose pattern
starts with a literal key looks at those lines only, and the sections of one pattern are also one
joined text, so a rule is one regex search over all of them instead of one per section.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

_PREFIX_WORDS = frozenset({"no", "set", "delete", "default"})
_LITERAL = re.compile(r"[A-Za-z0-9_.:/-]+")


class Line(NamedTuple):
    """One config line, stripped, with its 1-based number in the file."""

    number: int
    text: str


class Scope:
    """The lines a rule is checked against: a section (its header and children) or the config."""

    __slots__ = ("_text", "config", "end", "header", "start")

    def __init__(self, config: ParsedConfig, header: int | None, start: int, end: int):
        self.config = config
        self.header = header
        self.start = start
        self.end = end
        self._text: str | None = None

    @property
    def header_line(self) -> Line | None:
        """The section's first line (None for the whole config)."""
        return None if self.header is None else self.config.line(self.header)

    @property
    def text(self) -> str:
        """The lines (not the header), each after a newline, for one `per_text` search."""
        if self._text is None:
            lines = self.config.texts[self.start : self.end]
            self._text = "\n" + "\n".join(lines) if lines else ""
        return self._text

    def body(self) -> range:
        """Positions of the header and the lines."""
        return range(self.start if self.header is None else self.header, self.end)

    def with_key(self, key: str | None) -> list[int] | range:
        """Positions of the lines whose key is `key`, or of every line (unknown key, or a
        section: a section is so small that indexing it costs more than looking at each line)."""
        if key is None or self.header is not None:
            return range(self.start, self.end)
        return self.config.index().get(key, [])


class Sections:
    """Every section of one header pattern, also as one text: each line after a newline."""

    __slots__ = (
        "_found",
        "_line_starts",
        "_scopes",
        "_starts",
        "_text",
        "config",
        "ends",
        "headers",
    )

    def __init__(self, config: ParsedConfig, headers: list[int], ends: list[int]):
        self.config = config
        self.headers = headers  # per section, its header's position
        self.ends = ends  # per section, the position after its last line
        self._scopes: list[Scope] | None = None
        self._found: dict[tuple[str, int, bool], set[int]] = {}  # rules share `when` patterns
        self._text: str | None = None
        self._starts: list[int] = []  # per section, the newline before its header
        self._line_starts: list[int] = []  # per section, the newline before its first child

    @property
    def scopes(self) -> list[Scope]:
        """The sections as scopes."""
        if self._scopes is None:
            self._scopes = [self.scope(index) for index in range(len(self.headers))]
        return self._scopes

    def scope(self, index: int) -> Scope:
        """One section as a scope."""
        header = self.headers[index]
        return Scope(self.config, header, header + 1, self.ends[index])

    def _joined(self) -> str:
        if self._text is None:
            texts, parts, offset = self.config.texts, [], 0
            starts, line_starts = self._starts, self._line_starts
            for header, end in zip(self.headers, self.ends, strict=True):
                body = "\n" + "\n".join(texts[header:end])
                starts.append(offset)
                line_starts.append(offset + 1 + len(texts[header]))
                parts.append(body)
                offset += len(body)
            self._text = "".join(parts)
        return self._text

    def matching(self, pattern: re.Pattern[str], *, header: bool) -> set[int]:
        """Indexes of the sections with a line matching `pattern` (made by `per_text`),
        counting the header line or not."""
        key = (pattern.pattern, pattern.flags, header)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._matching(pattern, header)
        return found

    def _matching(self, pattern: re.Pattern[str], header: bool) -> set[int]:
        text = self._joined()
        starts, line_starts, count = self._starts, self._line_starts, len(self.headers)
        found: set[int] = set()
        position = 0
        while True:  # after a match, on from the next section: a section counts once
            match = pattern.search(text, position)
            if match is None or match.start() >= len(text):
                return found
            index = bisect_right(starts, match.start()) - 1
            if not header and match.start() < line_starts[index]:
                position = line_starts[index]  # a header match: look on in its lines
                continue
            found.add(index)
            if index + 1 >= count:
                return found
            position = starts[index + 1]


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


class ParsedConfig:
    """A config's meaningful lines (no blanks or comments) as columns, sections built lazily."""

    __slots__ = ("_index", "_keep", "_raws", "_sections", "_top", "texts", "whole")

    def __init__(self, text: str):
        raws = text.splitlines()
        stripped = list(map(str.strip, raws))
        keep = [n for n, line in enumerate(stripped) if line and line[0] not in "!#"]
        self._raws = raws
        self._keep = keep
        self.texts = [stripped[n] for n in keep]
        self._index: dict[str, list[int]] | None = None
        self._top: list[int] | None = None
        self._sections: dict[str, Sections] = {}
        self.whole = Scope(self, None, 0, len(keep))

    def line(self, position: int) -> Line:
        """The line at a position among the meaningful lines."""
        return Line(self._keep[position] + 1, self.texts[position])

    def index(self) -> dict[str, list[int]]:
        """Positions of the lines by key."""
        if self._index is None:
            texts = self.texts
            index: dict[str, list[int]] = {}
            # first words in one C-level pass, then the few `no`/`set` lines re-keyed
            for position, first in enumerate([text.partition(" ")[0] for text in texts]):
                found = index.get(first)
                if found is None:
                    index[first] = [position]
                else:
                    found.append(position)
            for word in _PREFIX_WORDS & index.keys():
                for position in index.pop(word):
                    rest = texts[position][len(word) + 1 :]
                    key = f"{word} {rest.partition(' ')[0]}" if rest else word
                    index.setdefault(key, []).append(position)
            self._index = index
        return self._index

    def _end(self, position: int) -> int:
        """The position after the last line indented below the one at `position`."""
        raws, keep = self._raws, self._keep
        header = raws[keep[position]]
        if header[:1] not in " \t":  # most headers: their section ends at the next such line
            if self._top is None:
                self._top = [n for n, k in enumerate(keep) if raws[k][:1] not in " \t"]
            after = bisect_right(self._top, position)
            return self._top[after] if after < len(self._top) else len(keep)
        # a child's first (header indent + 1) characters are all blanks
        cut, end = len(header) - len(header.lstrip()) + 1, position + 1
        while end < len(keep) and raws[keep[end]][:cut].isspace():
            end += 1
        return end

    def sections(self, pattern: re.Pattern[str], key: str | None) -> Sections:
        """Each line matching `pattern`, with the lines indented below it."""
        cached = self._sections.get(pattern.pattern)
        if cached is None:
            texts = self.texts
            headers = [p for p in self.whole.with_key(key) if pattern.search(texts[p])]
            cached = Sections(self, headers, [self._end(header) for header in headers])
            self._sections[pattern.pattern] = cached
        return cached


# what can match a line break or look past one: a pattern holding one of these is tried line by line
_CROSSES_LINES = re.compile(r"\\[sWDnAZ]|\[\^|\(\?<[=!]")
# a leading `^` (after inline flags): searched as a newline, a literal re finds fast, where a
# MULTILINE `^` is tried at every character
_LEADING_CARET = re.compile(r"^(\(\?[aiLmsux]+\))?\^")


def per_text(pattern: str) -> re.Pattern[str] | None:
    """`pattern` for one search over lines each after a newline (a section's `text`), or None
    if it could cross lines or match nothing (a pattern matching "" is tried line by line)."""
    if _CROSSES_LINES.search(pattern) or re.fullmatch(pattern, ""):
        return None
    return re.compile(_LEADING_CARET.sub(r"\1\\n", pattern, count=1), re.MULTILINE)


def parse_config(text: str) -> ParsedConfig:
    """Read a config once for every rule."""
    return ParsedConfig(text)
