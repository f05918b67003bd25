"""Which commands may be sent to a device to read it: the one policy for playbook `show` steps,
the assistant's `show_command` tool and anything else that must not change a device.

A read-only command starts with a read verb (`show`, `display`, `ping`, `traceroute`, `dir`) and
its output filters (after `|`) only filter: `include`, `exclude`, `begin`, `section`, `count`, and
Junos' `match`, `except`, `count`, `last`, `trim`, `no-more`, `display json|xml|set`. A pipe that
writes (`redirect`, `tee`, `append`, `save`) or anything else is refused, as are several commands
on one line.
"""

from __future__ import annotations

import re

READ_VERBS = ("show", "display", "ping", "traceroute", "dir")
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
_JUNOS_DISPLAY = re.compile(r"^display\s+(json|xml|set)(\s+\S+)?$")


def read_only_problem(command: str) -> str | None:
    """Why `command` is not a read-only command, or None when it is."""
    text = command.strip()
    if not text:
        return "an empty command"
    if "\n" in text or "\r" in text or ";" in text:
        return f"{command!r}: one command per line, no separators"
    head, *pipes = [part.strip() for part in text.split("|")]
    verb = head.split()[0].lower() if head.split() else ""
    if verb not in READ_VERBS:
        return (
            f"{command!r} is not a read-only command (it must start with {', '.join(READ_VERBS)})"
        )
    for pipe in pipes:
        words = pipe.split()
        name = words[0].lower() if words else ""
        if name == "display" and _JUNOS_DISPLAY.match(pipe.lower()):
            continue
        if name not in FILTERS:
            return f"{command!r}: `| {pipe}` is not an output filter (only include, exclude, …)"
    return None
