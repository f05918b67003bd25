"""OID names from MIB source files (SMIv1/SMIv2 text), for users' vendor MIB directories.

Only what naming needs is read: every `name <MACRO> ... ::= { parent n ... }` and `name OBJECT
IDENTIFIER ::= { ... }` assignment, resolved against the other modules of the directories, genosd's
own names and the SMI roots. pysmi, the library of the field, needs the source text of SNMPv2-SMI
and the other base modules to compile anything, which a machine without internet access does not
have; names alone need none of it.
"""

from __future__ import annotations

import re
from pathlib import Path

from genosd.errors import ConfigError
from genosd.snmp.names import MibNames, builtin_names

ROOTS = {
    "iso": "1",
    "org": "1.3",
    "dod": "1.3.6",
    "internet": "1.3.6.1",
    "directory": "1.3.6.1.1",
    "mgmt": "1.3.6.1.2",
    "mib-2": "1.3.6.1.2.1",
    "transmission": "1.3.6.1.2.1.10",
    "experimental": "1.3.6.1.3",
    "private": "1.3.6.1.4",
    "enterprises": "1.3.6.1.4.1",
    "security": "1.3.6.1.5",
    "snmpV2": "1.3.6.1.6",
    "snmpDomains": "1.3.6.1.6.1",
    "snmpProxys": "1.3.6.1.6.2",
    "snmpModules": "1.3.6.1.6.3",
    "zeroDotZero": "0.0",
}
_COMMENT = re.compile(r"--.*?(?:--|$)", re.MULTILINE)
_MODULE = re.compile(r"^\s*([A-Za-z][\w-]*)\s+(?:DEFINITIONS)\s*::=\s*BEGIN", re.MULTILINE)
_ASSIGNMENT = re.compile(
    r"(?:^|\n)\s*([a-z][\w-]*)\s+"
    r"(OBJECT-TYPE|OBJECT\s+IDENTIFIER|NOTIFICATION-TYPE|MODULE-IDENTITY|OBJECT-IDENTITY|"
    r"OBJECT-GROUP|NOTIFICATION-GROUP|MODULE-COMPLIANCE|AGENT-CAPABILITIES|TRAP-TYPE)\b"
    r"(.*?)::=\s*(\{[^}]*\}|\d+)",
    re.DOTALL,
)
_ARC = re.compile(r"^(?:([a-zA-Z][\w-]*)\((\d+)\)|([a-zA-Z][\w-]*)|(\d+))$")


def _assignments(text: str) -> list[tuple[str, str, str, str]]:
    """(module, name, macro, value) of each OID assignment in a MIB file's text."""
    text = _COMMENT.sub("", text)
    found = []
    modules = list(_MODULE.finditer(text))
    for number, module in enumerate(modules):
        end = modules[number + 1].start() if number + 1 < len(modules) else len(text)
        for match in _ASSIGNMENT.finditer(text, module.end(), end):
            name, macro, body, value = match.groups()
            if macro == "TRAP-TYPE":  # SMIv1: ENTERPRISE x ... ::= n  ->  x.0.n
                enterprise = re.search(r"ENTERPRISE\s+([A-Za-z][\w-]*)", body)
                if enterprise is None or not value.isdigit():
                    continue
                value = f"{{ {enterprise.group(1)} 0 {value} }}"
            if value.startswith("{"):
                found.append((module.group(1), name, macro, value))
    return found


def load_mib_dir(directory: Path, names: MibNames) -> int:
    """Add the names of every MIB file in `directory` to `names`; how many were added.

    ConfigError when no file there holds a MIB module, naming the directory."""
    pending: list[tuple[str, str, list[str]]] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
        for module, name, _, value in _assignments(text):
            pending.append((module, name, value.strip("{} \n\t").split()))
    if not pending:
        raise ConfigError(
            "no MIB module (`NAME DEFINITIONS ::= BEGIN`) in any file", source=str(directory)
        )
    known: dict[str, str] = dict(ROOTS)
    added = 0
    while pending:  # parents may come later in the file, or from another module
        waiting: list[tuple[str, str, list[str]]] = []
        for module, name, arcs in pending:
            oid = _resolve(arcs, known, names)
            if oid is None:
                waiting.append((module, name, arcs))
                continue
            known[name] = oid
            names.add(module, name, oid)
            added += 1
        if len(waiting) == len(pending):
            break  # the rest hang off names no file defines
        pending = waiting
    return added


def _resolve(arcs: list[str], known: dict[str, str], names: MibNames) -> str | None:
    numbers: list[str] = []
    for position, arc in enumerate(arcs):
        match = _ARC.match(arc)
        if match is None:
            return None
        labelled, number, label, digits = match.groups()
        if digits is not None or number is not None:
            if position == 0 and labelled is not None and labelled in known:
                numbers = [known[labelled]]
                continue
            numbers.append(digits or number)
            continue
        if position != 0:
            return None
        parent = known.get(label) or names.oid_of(label)
        if parent is None:
            return None
        numbers.append(parent)
    return ".".join(numbers) if numbers else None


def with_files(paths: list[Path]) -> MibNames:
    """The built-in names plus those in `paths`: directories of MIB source files (vendor MIBs as
    shipped) or YAML name files; ConfigError naming a bad file."""
    if not paths:
        return builtin_names()
    names = builtin_names().copy()
    for path in paths:
        if path.is_dir():
            load_mib_dir(path, names)
        else:
            names.add_file(path)
    return names
