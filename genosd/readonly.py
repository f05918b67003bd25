"""Which commands may be sent to a device to read it: the one policy for playbook `show` steps,
the assistant's `show_command` tool and anything else that must not change a device.

A read-only command starts with one of its platform's read verbs (genosd/platforms.yaml
`read_verbs`; by default `show`, `display`, `ping`, `traceroute`, `dir`; a verb may be several
words, such as Junos' `file list`) and
its output filters (after `|`) only filter: `include`, `exclude`, `begin`, `section`, `count`, and
Junos' `match`, `except`, `count`, `last`, `trim`, `no-more`, `display json|xml|set`. A `|` after a filter's pattern
is part of its regex (`| include ntp|snmp`) unless it names a target that writes (`redirect`,
`tee`, `append`, `save`, …); a first pipe that is not a filter, a writing pipe anywhere, and
several commands on one line are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

READ_VERBS = ("show", "display", "ping", "traceroute", "dir")
# every verb a platform may list as read-only (Huawei's tracert, Junos' file list/show)
KNOWN_READ_VERBS = frozenset([*READ_VERBS, "tracert", "file list", "file show"])
FILTERS = frozenset(
    [
        "include",
        "exclude",
        "begin",
        "section",
        "count",
        "i",
        "e",
        "b",
        "s",
        "inc",
        "ex",
        "be",
        "sec",
        "cou",
        "match",
        "except",
        "last",
        "trim",
        "no-more",
        "json",
    ]
)
# pipe targets that write or act (IOS/NX-OS redirect, tee, append; Junos save, request, …)
WRITES = frozenset(
    ["redirect", "tee", "append", "save", "write", "copy", "request", "file", "upload", "commit"]
)
_JUNOS_DISPLAY = re.compile(r"^display\s+(json|xml|set)(\s+\S+)?$")


def read_only_problem(command: str, verbs: Sequence[str] = READ_VERBS) -> str | None:
    """Why `command` is not a read-only command (with these read `verbs`), or None when it is."""
    text = command.strip()
    if not text:
        return "an empty command"
    if "\n" in text or "\r" in text or ";" in text:
        return f"{command!r}: one command per line, no separators"
    head, *pipes = [part.strip() for part in text.split("|")]
    words = [w.lower() for w in head.split()]
    if not any(words[: len(v.split())] == v.lower().split() for v in verbs):
        return f"{command!r} is not a read-only command (it must start with {', '.join(verbs)})"
    filtering = False
    for pipe in pipes:
        words = pipe.split()
        name = words[0].lower() if words else ""
        if name in WRITES:
            return f"{command!r}: `| {pipe}` writes; only output filters are allowed"
        if name in FILTERS or (name == "display" and _JUNOS_DISPLAY.match(pipe.lower())):
            filtering = True
        elif not filtering:
            return f"{command!r}: `| {pipe}` is not an output filter (only include, exclude, …)"
        # else: an alternation inside the previous filter's regex (`| include ntp|snmp`)
    return None
