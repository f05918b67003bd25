"""Accepted proposals written into hosts.yaml as text edits, so every comment and layout stays.

An added device is appended as a block with a comment saying who accepted it and why; a changed
address replaces only the hostname's scalar; a device gone is commented out, not deleted, so
undoing it is removing a `# `. The new text must load as a valid inventory (with the directory's
groups and defaults) before it replaces the file, atomically.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from genosd.discovery.proposals import Proposal
from genosd.errors import ConflictError, InventoryError
from genosd.inventory import load_inventory
from genosd.settings import GenosdSettings

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _hosts(text: str, path: Path) -> tuple[yaml.MappingNode | None, dict[str, Any]]:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise InventoryError(f"invalid YAML: {exc}", source=str(path)) from exc
    if root is None:
        return None, {}
    if not isinstance(root, yaml.MappingNode):
        raise InventoryError("hosts.yaml is not a mapping of hosts", source=str(path))
    return root, {key.value: (key, value) for key, value in root.value}


def _stamp(proposal: Proposal, run: int, actor: str, when: float) -> str:
    day = time.strftime("%Y-%m-%d", time.gmtime(when))
    reason = " ".join(proposal.reason.split())
    return (
        f"# genosd discover run {run} proposal {proposal.id}, accepted by {actor} {day}: {reason}"
    )


def _entry(proposal: Proposal) -> dict[str, Any]:
    entry: dict[str, Any] = {"hostname": proposal.address}
    if proposal.platform:
        entry["platform"] = proposal.platform
    if proposal.credential:
        entry["data"] = {"snmp": {"credential": proposal.credential}}
    return entry


def edit(
    text: str, path: Path, proposals: Sequence[Proposal], run: int, actor: str, when: float
) -> str:
    """hosts.yaml's text with `proposals` applied (ConflictError when one no longer fits)."""
    root, hosts = _hosts(text, path)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    replace: list[tuple[int, int, int, str]] = []  # line, start column, end column, new text
    comment_out: dict[int, tuple[int, str]] = {}  # first line -> (end line, stamp)
    appended: list[str] = []
    for proposal in proposals:
        found = hosts.get(proposal.device)
        if proposal.kind == "add":
            if found is not None:
                raise ConflictError(f"{proposal.device} is already in {path}")
            block = yaml.safe_dump(
                {proposal.device: _entry(proposal)}, sort_keys=False, default_flow_style=False
            )
            appended.append(_stamp(proposal, run, actor, when) + "\n" + block)
            continue
        if found is None:
            raise ConflictError(f"{proposal.device} is no longer in {path}")
        key, value = found
        if proposal.kind == "address":
            hostname = _hostname_node(value)
            if hostname is None or hostname.value != proposal.old_address:
                raise ConflictError(
                    f"{proposal.device}'s hostname in {path} is no longer {proposal.old_address}"
                )
            start, end = hostname.start_mark, hostname.end_mark
            if start.line != end.line:
                raise ConflictError(f"{proposal.device}'s hostname spans lines: edit it by hand")
            replace.append((start.line, start.column, end.column, str(proposal.address)))
        else:
            if root is not None and root.flow_style:
                raise ConflictError(f"{path} is one flow mapping: comment {proposal.device} out")
            first, stop = key.start_mark.line, value.end_mark.line + (value.end_mark.column > 0)
            while stop > first + 1 and (
                not lines[stop - 1].strip() or lines[stop - 1].lstrip().startswith("#")
            ):
                stop -= 1  # the comments and blank lines before the next host stay its own
            comment_out[first] = (stop, _stamp(proposal, run, actor, when))
    for line, start_col, end_col, new in sorted(replace, reverse=True):
        current = lines[line]
        lines[line] = current[:start_col] + new + current[end_col:]
    for first, (stop, stamp) in sorted(comment_out.items(), reverse=True):
        lines[first:stop] = [
            stamp + "\n",
            *("# " + x if x.strip() else x for x in lines[first:stop]),
        ]
    if appended:
        if root is not None and root.flow_style:
            if root.value:
                raise ConflictError(f"{path} is one flow mapping: add the new hosts by hand")
            lines = [x for x in lines if x.lstrip().startswith("#") or not x.strip()]
        if lines and lines[-1].strip():
            lines.append("\n")
        lines.append("\n".join(appended))
    return "".join(lines)


def _hostname_node(value: yaml.Node) -> yaml.ScalarNode | None:
    if isinstance(value, yaml.MappingNode):
        for key, item in value.value:
            if key.value == "hostname" and isinstance(item, yaml.ScalarNode):
                return item
    return None


def write_checked(directory: Path, text: str, settings: GenosdSettings) -> str:
    """Replace hosts.yaml with `text` once the directory loads with it; the unified diff."""
    hosts = directory / "hosts.yaml"
    old = hosts.read_text() if hosts.exists() else ""
    with tempfile.TemporaryDirectory(prefix="genosd-inventory-") as scratch:
        trial = Path(scratch)
        for name in ("groups.yaml", "defaults.yaml"):
            if (directory / name).is_file():
                shutil.copy2(directory / name, trial / name)
        (trial / "hosts.yaml").write_text(text)
        try:
            load_inventory(trial, settings)
        except InventoryError as exc:
            problems = "; ".join(exc.problems) if getattr(exc, "problems", None) else str(exc)
            raise InventoryError(
                f"the inventory would not load with these proposals: {problems}",
                source=str(hosts),
            ) from None
    partial = hosts.with_name(".hosts.yaml.partial")
    partial.write_text(text)
    if hosts.exists():
        shutil.copymode(hosts, partial)
    os.replace(partial, hosts)
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            text.splitlines(keepends=True),
            "a/hosts.yaml",
            "b/hosts.yaml",
        )
    )
