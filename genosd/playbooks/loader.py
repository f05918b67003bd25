"""Reading playbook files: the format, then what the format alone cannot check, with file and line.

Beyond the model (genosd.playbooks.model): each action exists (built-in or a plugin's task) and its
arguments validate against that action's model; every condition and template compiles and names
only what is defined at that point (the playbook's variables, `host`, `run`, `item` inside a
loop, and the results of steps registered before it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from genosd.errors import ConfigError
from genosd.playbooks.expressions import ExpressionError, check_expression, check_template
from genosd.playbooks.model import BUILTIN_ACTIONS, Playbook, Step
from genosd.yamlfile import YamlDocument, describe_validation_error, load_yaml, yaml_files

LinePath = tuple[str | int, ...]


class PlaybookError(ConfigError):
    """A playbook file is invalid."""


def load_playbook(path: Path, tasks: Mapping[str, type[BaseModel]] | None = None) -> Playbook:
    """One playbook file, checked; PlaybookError listing every problem as `file:line: …`."""
    doc = load_yaml(path, error=PlaybookError)
    try:
        playbook = Playbook.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        raise PlaybookError(
            "invalid playbook", problems=describe_validation_error(exc, [doc])
        ) from None
    actions = {**BUILTIN_ACTIONS, **(tasks or {})}
    problems: list[str] = []
    known = set(playbook.variables)
    _check_steps(playbook.steps, ("steps",), doc, actions, known, problems)
    _check_change_order(playbook.steps, doc, problems)
    if problems:
        raise PlaybookError("invalid playbook", problems=problems)
    return playbook


def collect_playbooks(
    paths: Iterable[Path], tasks: Mapping[str, type[BaseModel]] | None = None
) -> tuple[dict[str, Playbook], list[str]]:
    """The valid playbooks of `paths` (directories mean their *.yaml) by name, and the problems
    of the files that are not (one bad file does not hide the others)."""
    found: dict[str, Playbook] = {}
    where: dict[str, Path] = {}
    problems: list[str] = []
    for file in yaml_files(paths, error=PlaybookError, what="playbook"):
        try:
            playbook = load_playbook(file, tasks)
        except PlaybookError as exc:
            problems.extend(exc.problems or [str(exc)])
            continue
        if playbook.name in found:
            problems.append(f"{file}: playbook {playbook.name!r} is also in {where[playbook.name]}")
            continue
        found[playbook.name], where[playbook.name] = playbook, file
    return found, problems


def load_playbooks(
    paths: Iterable[Path], tasks: Mapping[str, type[BaseModel]] | None = None
) -> dict[str, Playbook]:
    """Every playbook of `paths` by name; PlaybookError listing every problem if one is bad."""
    found, problems = collect_playbooks(paths, tasks)
    if problems:
        raise PlaybookError("invalid playbooks", problems=problems)
    return found


def _check_steps(
    steps: Sequence[Step],
    at: LinePath,
    doc: YamlDocument,
    actions: Mapping[str, type[BaseModel]],
    known: set[str],
    problems: list[str],
) -> None:
    """Check steps in order; `known` grows with each step's `register`."""
    for number, step in enumerate(steps):
        here = (*at, number)
        names = known | ({"item"} if step.loop is not None else set())
        _expression(step.when, names, (*here, "when"), doc, problems)
        if step.save_as is not None:
            _expression(step.until, names | {step.save_as}, (*here, "until"), doc, problems)
        if isinstance(step.loop, str):
            _expression(step.loop, known, (*here, "loop"), doc, problems)
        if step.block is not None:
            _check_steps(step.block, (*here, "block"), doc, actions, known, problems)
            if step.always is not None:
                _check_steps(step.always, (*here, "always"), doc, actions, known, problems)
        elif step.action is not None:
            _check_action(step, here, doc, actions, names, problems)
        if step.save_as is not None:
            if step.save_as in known:
                problems.append(
                    f"{doc.where((*here, 'register'))}: {step.save_as!r} is already a variable "
                    "or a registered result"
                )
            known.add(step.save_as)


def _check_change_order(steps: Sequence[Step], doc: YamlDocument, problems: list[str]) -> None:
    """Approval gates stand on their own at the top level, and a deploy comes after a plan and
    an approval of it: nothing reaches a device without a human approving its diff."""
    planned = approved = False
    for number, step in enumerate(steps):
        where = doc.where(("steps", number))
        nested = _flatten(step.block or []) + _flatten(step.always or [])
        if any(s.action == "approval" for s in nested):
            problems.append(f"{where}: an approval gate is a top-level step, not inside a block")
        if step.action == "approval" and (step.loop is not None or step.retries):
            problems.append(f"{where}: an approval gate takes no loop or retries")
        for one in [step, *nested]:
            if one.action == "plan":
                planned, approved = True, False
            elif one.action == "deploy" and not (planned and approved):
                problems.append(
                    f"{where}: deploy needs a plan step and then an approval step before it "
                    "(nothing reaches a device without a human approving its diff)"
                )
        if step.action == "approval" and planned:
            approved = True


def _flatten(steps: Sequence[Step]) -> list[Step]:
    found: list[Step] = []
    for step in steps:
        found.append(step)
        found += _flatten(step.block or []) + _flatten(step.always or [])
    return found


def _check_action(
    step: Step,
    here: LinePath,
    doc: YamlDocument,
    actions: Mapping[str, type[BaseModel]],
    names: set[str],
    problems: list[str],
) -> None:
    assert step.action is not None
    model = actions.get(step.action)
    if model is None:
        problems.append(
            f"{doc.where((*here, step.action))}: unknown action {step.action!r} (built-in: "
            f"{', '.join(BUILTIN_ACTIONS)}; or a task a plugin registers)"
        )
        return
    try:
        args = model.model_validate(step.args)
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc, [doc], (*here, step.action)))
        return
    for field, value in args:
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            loc = (*here, step.action, field)
            if (step.action, field) == ("assert", "that"):
                _expression(text, names, loc, doc, problems)
            else:
                _expression(text, names, loc, doc, problems, check_template)


def _expression(
    text: str | None,
    names: set[str],
    loc: LinePath,
    doc: YamlDocument,
    problems: list[str],
    check: Callable[[str, Iterable[str]], None] = check_expression,
) -> None:
    """Compile a condition (or, with `check_template`, a text); a problem with its line if bad."""
    if text is None:
        return
    try:
        check(text, names)
    except ExpressionError as exc:
        problems.append(f"{doc.where(loc)}: {exc}")


def schema() -> dict[str, Any]:
    """The playbook format as JSON Schema, for editors (the built-in actions spelled out)."""
    base = Playbook.model_json_schema()
    step = base["$defs"]["Step"]
    common = {k: v for k, v in step["properties"].items() if k not in ("action", "args")}
    variants = []
    for name, model in BUILTIN_ACTIONS.items():
        args = model.model_json_schema()
        for key, definition in args.pop("$defs", {}).items():
            base["$defs"].setdefault(key, definition)
        variants.append(
            {
                "type": "object",
                "properties": {**common, name: args},
                "required": [name],
                "additionalProperties": False,
            }
        )
    variants.append(
        {
            "type": "object",
            "properties": common,
            "required": ["block"],
            "additionalProperties": False,
        }
    )
    base["$defs"]["Step"] = {"description": step.get("description", ""), "anyOf": variants}
    return base
