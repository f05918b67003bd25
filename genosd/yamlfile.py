"""Load YAML files keeping line numbers, so validation errors can name file:line:field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from genosd.errors import ConfigError

LinePath = tuple[str | int, ...]


class YamlDocument:
    """A parsed YAML file and the line of every key and item in it."""

    def __init__(self, path: Path, data: Any, lines: dict[LinePath, int]):
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest existing node on the way to `loc`."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def where(self, loc: Sequence[str | int]) -> str:
        """`file:line` for a location inside the document."""
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)


def _index_nodes(
    node: yaml.Node, path: LinePath, lines: dict[LinePath, int], duplicates: list[str]
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:  # YAML loaders keep the last one without a word
                where = ".".join(map(str, (*path, key)))
                duplicates.append(f"{line}: {where}: duplicate key (first at line {seen[key]})")
            seen.setdefault(key, line)
            lines[(*path, key)] = line
            _index_nodes(value_node, (*path, key), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_nodes(item, (*path, index), lines, duplicates)


# libyaml (C) when PyYAML was built with it: 10-20x faster on a large inventory
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, path: Path, *, error: type[ConfigError] = ConfigError) -> YamlDocument:
    """Parse YAML text once into data and node lines; a syntax error names file and line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(f"invalid YAML: {exc.problem}", source=where) from exc
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", source=str(path)) from exc
    finally:
        loader.dispose()
    lines: dict[LinePath, int] = {}
    duplicates: list[str] = []
    if node is not None:
        _index_nodes(node, (), lines, duplicates)
        _dismantle(node)
    if duplicates:
        raise error(
            "duplicate keys",
            source=str(path),
            problems=[f"{path}:{problem}" for problem in duplicates],
        )
    return YamlDocument(path, data, lines)


def _dismantle(root: yaml.Node) -> None:
    """Free a node tree a node at a time.

    Dropping the root of a large tree frees it in one chain of C deallocations that holds the GIL
    (~60 ms for a 5,000-host inventory), stalling the event loop while a reload parses on a
    worker thread; taken apart node by node, the thread yields as usual.
    """
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
        elif isinstance(node.value, list):
            stack.extend(node.value)
            node.value = None


def release(document: YamlDocument) -> None:
    """Empty a parsed document piece by piece (see `_dismantle`) once nothing needs it."""
    stack: list[Any] = [document.data, document.lines]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            while value:
                stack.append(value.popitem()[1])
        elif isinstance(value, list):
            while value:
                stack.append(value.pop())
    document.data = None


def load_yaml(path: Path, *, error: type[ConfigError] = ConfigError) -> YamlDocument:
    """Read and parse one YAML file (see parse_yaml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=str(path)) from exc
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror}", source=str(path)) from exc
    return parse_yaml(text, path, error=error)


def describe_validation_error(
    exc: ValidationError,
    documents: Iterable[YamlDocument] = (),
    prefix: LinePath = (),
) -> list[str]:
    """One line per problem: `file:line: field.path: message` where the file is known."""
    docs = list(documents)
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        field = ".".join(str(part) for part in loc) or "(top level)"
        where = ""
        for doc in docs:
            if doc.line_of(loc) is not None and len(loc) > 0 and doc.lines.get(loc[:1]) is not None:
                where = doc.where(loc) + ": "
                break
        problems.append(f"{where}{field}: {err['msg']}")
    return problems


def yaml_files(paths: Iterable[Path], *, error: type[ConfigError], what: str) -> list[Path]:
    """The files of `paths`: a directory means its *.yaml and *.yml; a missing path is `error`."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
        elif path.exists():
            files.append(path)
        else:
            raise error(f"no such {what} file or directory", source=str(path))
    return files
