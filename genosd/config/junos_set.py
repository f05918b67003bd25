"""Junos configuration in curly-brace form turned into `set` lines (what `| display set` prints).

Rules and history read Junos as set lines; a config file handed to `config validate --file` may be
the curly form (`show configuration`). Each statement ending in `;` becomes `set <path> <words>`,
a `[ a b ]` list one line per member; `inactive:` statements are left out (they are not in effect)
and comments (`#`, `/* */`, `## SECRET-DATA`) dropped. Line numbers cannot survive the change of
form: findings then point at the set line's position.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[{};\[\]]|[^\s{};\[\]"]+')
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def is_curly(text: str) -> bool:
    """Whether a Junos config is in curly-brace form rather than set lines."""
    return bool(re.search(r"^\s*[\w-]+( [\w./:-]+)* \{\s*$", text, re.MULTILINE))


def curly_to_set(text: str) -> str:
    """The set lines of a curly-brace Junos config (inactive statements left out: not in effect)."""
    lines = [_strip_comment(line) for line in _BLOCK_COMMENT.sub("", text).splitlines()]
    out: list[str] = []
    path: list[list[str]] = []  # the words of each open block
    words: list[str] = []
    members: list[str] = []
    collecting: list[str] | None = None  # inside `[ … ]`
    for token in _TOKEN.findall("\n".join(lines)):
        if collecting is not None:
            if token == "]":
                members, collecting = collecting, None
            else:
                collecting.append(token)
        elif token == "[":
            collecting = []
        elif token == "{":
            path.append(words)
            words = []
        elif token == ";":
            _emit(out, [*path, words], members)
            words, members = [], []
        elif token == "}":
            if path:
                path.pop()
            words = []
        else:
            words.append(token)
    return "\n".join(out) + ("\n" if out else "")


def _emit(out: list[str], blocks: list[list[str]], members: list[str]) -> None:
    flat = [word for block in blocks for word in block]
    if not flat or "inactive:" in flat:
        return
    if not members:
        out.append(" ".join(["set", *flat]))
    out.extend(" ".join(["set", *flat, member]) for member in members)


def _strip_comment(line: str) -> str:
    """A line without its `#` comment (outside quotes)."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:index]
    return line
