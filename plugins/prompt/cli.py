"""`genosd prompt …`: the prompt library from the command line, over the same workflows as its
API (edits audited as `cli:<user>`, test runs and comparisons stored)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from genosd.plugin import InvalidRequestError, OpenPlugin
from plugins.prompt.library import PromptLibrary, library_for
from plugins.prompt.model import PromptBody, PromptVersion, validated
from plugins.prompt.testing import Case, RunResult, Side

T = TypeVar("T")
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="settings file (genosd.yaml)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print data as JSON")]
NameArg = Annotated[str, typer.Argument(help="prompt name")]
VersionOption = Annotated[int | None, typer.Option("--version", help="a version (default: active)")]
ModelOption = Annotated[str | None, typer.Option("--model", help="a model (default: routing)")]
_FIELDS = set(PromptBody.model_fields)


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 100_000)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _yaml(version: PromptVersion) -> str:
    body = version.model_dump(include=_FIELDS, exclude_defaults=True)
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _variables(items: list[str] | None) -> dict[str, Any]:
    """NAME=VALUE pairs; NAME=@FILE reads the value from a file (a config, a show output)."""
    found: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidRequestError(f"bad --var {item!r}: use NAME=VALUE or NAME=@FILE")
        if value.startswith("@"):
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidRequestError(f"--var {name}: cannot read {value[1:]}: {exc}") from None
        found[name] = value
    return found


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidRequestError(f"{path}: not YAML: {exc}") from None


def _result_row(result: RunResult) -> list[str]:
    state = "pass" if result.passed else f"FAIL: {result.problem}"
    return [
        f"{result.provider or '-'}/{result.model or '-'}",
        state,
        f"{result.latency:.2f}s",
        f"{result.tokens_in}/{result.tokens_out}",
    ]


def commands(open_plugin: OpenPlugin) -> typer.Typer:
    """The `genosd prompt` command group, bound to how the CLI opens the plugin."""
    app = typer.Typer(
        help="The prompt library: versions, diffs, test runs, A/B", no_args_is_help=True
    )

    def run(config: Path | None, work: Callable[[PromptLibrary, str], Awaitable[T]]) -> T:
        async def main() -> T:
            async with open_plugin(config) as session:
                return await work(library_for(session.config, session.context), session.actor)

        return asyncio.run(main())

    @app.command("list")
    def list_prompts(config: ConfigOption = None, json_out: JsonOption = False) -> None:
        """Every prompt's active version."""

        async def work(library: PromptLibrary, actor: str) -> list[PromptVersion]:
            return await asyncio.to_thread(library.store.active_versions)

        found = run(config, work)
        if json_out:
            _json([v.model_dump(mode="json") for v in found])
            return
        table = Table("name", "version", "kind", "by", "description")
        for v in found:
            table.add_row(v.name, str(v.version), v.kind, v.author, v.description)
        _out().print(table)

    @app.command("show")
    def show(
        name: NameArg,
        version: VersionOption = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """A version as YAML (what `edit --file` takes back)."""

        async def work(library: PromptLibrary, actor: str) -> PromptVersion:
            return await asyncio.to_thread(library.store.get, name, version)

        found = run(config, work)
        if json_out:
            _json(found.model_dump(mode="json"))
            return
        state = "active" if found.active else "inactive"
        print(f"# {found.name} v{found.version} ({state}) by {found.author}: {found.note}")
        sys.stdout.write(_yaml(found))

    @app.command("versions")
    def versions(name: NameArg, config: ConfigOption = None, json_out: JsonOption = False) -> None:
        """Every version of a prompt, newest first."""

        async def work(library: PromptLibrary, actor: str) -> list[PromptVersion]:
            return await asyncio.to_thread(library.store.versions, name)

        found = run(config, work)
        if json_out:
            _json([v.model_dump(mode="json") for v in found])
            return
        table = Table("version", "active", "by", "note")
        for v in found:
            table.add_row(str(v.version), "*" if v.active else "", v.author, v.note)
        _out().print(table)

    @app.command("edit")
    def edit(
        name: NameArg,
        file: Annotated[
            Path | None,
            typer.Option("--file", "-f", help="YAML with the fields to change (default: $EDITOR)"),
        ] = None,
        note: Annotated[str, typer.Option("--note", "-m", help="why (kept with the version)")] = "",
        config: ConfigOption = None,
    ) -> None:
        """Save a new active version: the fields of a YAML file, or the active version edited in
        $EDITOR (a new prompt when the name is new). Unchanged content saves nothing."""

        async def current(library: PromptLibrary, actor: str) -> PromptVersion | None:
            if name in await asyncio.to_thread(library.store.names):
                return await asyncio.to_thread(library.store.get, name)
            return None

        before = run(config, current)
        if file is not None:
            changes = _read_yaml(file)
        else:
            if not sys.stdin.isatty():
                raise InvalidRequestError("no terminal to edit in: give --file")
            start = _yaml(before) if before else "template: |\n  \n"
            edited = click.edit(start, extension=".yaml")
            if edited is None:
                print("not saved: the editor was closed without saving", file=sys.stderr)
                return
            try:
                changes = yaml.safe_load(edited)
            except yaml.YAMLError as exc:
                raise InvalidRequestError(f"not YAML: {exc}") from None
        if not isinstance(changes, dict) or not changes:
            raise InvalidRequestError("the edit must be a mapping of prompt fields")
        unknown = sorted(set(changes) - _FIELDS)
        if unknown:
            raise InvalidRequestError(
                f"unknown fields {', '.join(unknown)} (fields: {', '.join(sorted(_FIELDS))})"
            )
        if before is not None:
            merged = {**before.model_dump(include=_FIELDS), **changes}
            try:
                unchanged = PromptBody.model_validate(merged) == PromptBody.model_validate(
                    before.model_dump(include=_FIELDS)
                )
            except ValidationError:
                unchanged = False  # the save below reports what is wrong
            if unchanged:
                print(f"{name}: no change, v{before.version} stays active", file=sys.stderr)
                return

        async def save(library: PromptLibrary, actor: str) -> PromptVersion:
            return await library.edit(name, changes, actor, note)

        saved = run(config, save)
        print(f"{name}: v{saved.version} saved and active")

    @app.command("diff")
    def diff(
        name: NameArg,
        a: Annotated[
            int | None, typer.Argument(help="from version (default: the one before)")
        ] = None,
        b: Annotated[int | None, typer.Argument(help="to version (default: active)")] = None,
        config: ConfigOption = None,
    ) -> None:
        """What changed between two versions (unified diff of every field)."""

        async def work(library: PromptLibrary, actor: str) -> list[str]:
            to = b or (await asyncio.to_thread(library.store.get, name)).version
            since = a or max(to - 1, 1)
            return await asyncio.to_thread(library.store.diff, name, since, to)

        lines = run(config, work)
        sys.stdout.write("".join(line + "\n" for line in lines))

    @app.command("rollback")
    def rollback(
        name: NameArg,
        version: Annotated[int, typer.Argument(help="the version whose content comes back")],
        config: ConfigOption = None,
    ) -> None:
        """Make an old version's content active again (as a new version)."""

        async def work(library: PromptLibrary, actor: str) -> PromptVersion:
            return await library.rollback(name, version, actor)

        saved = run(config, work)
        print(f"{name}: v{saved.version} (the content of v{version}) saved and active")

    @app.command("test")
    def test(
        name: NameArg,
        var: Annotated[
            list[str] | None, typer.Option("--var", help="NAME=VALUE or NAME=@FILE (repeatable)")
        ] = None,
        case: Annotated[str | None, typer.Option("--case", help="a saved case instead")] = None,
        version: VersionOption = None,
        model: ModelOption = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Run a version on a model and show its answer, tokens and latency (exit 1 when the
        model gave none or a saved case's check failed)."""

        async def work(library: PromptLibrary, actor: str) -> RunResult:
            if case is not None:
                return await library.test_case(name, case, version, model)
            return await library.test(name, _variables(var), version, model)

        result = run(config, work)
        if json_out:
            _json(result.model_dump(mode="json"))
        else:
            model_name, state, latency, tokens = _result_row(result)
            print(
                f"# {name} v{result.version} on {model_name}: {state}, {latency}, tokens {tokens}"
            )
            print(result.output)
        if not result.passed:
            raise typer.Exit(1)

    @app.command("cases")
    def cases(
        name: NameArg,
        add: Annotated[
            Path | None,
            typer.Option("--add", help="YAML list of cases (name, variables, check) to save"),
        ] = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """The saved test cases of a prompt; --add saves cases from a file (same name replaces)."""
        new: list[Case] = []
        if add is not None:
            data = _read_yaml(add)
            items = data if isinstance(data, list) else [data]
            new = [validated(Case, item, f"{add}: case {n}") for n, item in enumerate(items)]

        async def work(library: PromptLibrary, actor: str) -> list[Case]:
            for item in new:
                await library.save_case(name, item)
            return await library.cases(name)

        found = run(config, work)
        if json_out:
            _json([c.model_dump(mode="json") for c in found])
            return
        table = Table("case", "variables", "check")
        for c in found:
            check = f"{c.check.kind} {json.dumps(c.check.value)}" if c.check else "-"
            table.add_row(c.name, ", ".join(c.variables), check)
        _out().print(table)

    @app.command("compare")
    def compare(
        name: NameArg,
        a_version: Annotated[int | None, typer.Option("--a-version")] = None,
        a_model: Annotated[str | None, typer.Option("--a-model")] = None,
        b_version: Annotated[int | None, typer.Option("--b-version")] = None,
        b_model: Annotated[str | None, typer.Option("--b-model")] = None,
        config: ConfigOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """A/B: every saved case on two versions and/or two models, side by side with totals."""

        async def work(library: PromptLibrary, actor: str) -> Any:
            a = Side(version=a_version, model=a_model)
            b = Side(version=b_version, model=b_model)
            return await library.compare(name, a, b)

        found = run(config, work)
        if json_out:
            _json(found.model_dump(mode="json"))
            return
        table = Table("case", "a model", "a", "a time", "b model", "b", "b time")
        for row in found.rows:
            left, right = _result_row(row.a), _result_row(row.b)
            table.add_row(row.case, *left[:3], *right[:3])
        table.add_row(
            "total",
            "",
            f"{found.a.passed} pass / {found.a.failed} fail",
            f"{found.a.mean_latency:.2f}s",
            "",
            f"{found.b.passed} pass / {found.b.failed} fail",
            f"{found.b.mean_latency:.2f}s",
        )
        _out().print(table)

    @app.command("export")
    def export(config: ConfigOption = None) -> None:
        """Every prompt's active version as YAML (what `import` takes)."""

        async def work(library: PromptLibrary, actor: str) -> list[dict[str, Any]]:
            return await asyncio.to_thread(library.store.export)

        sys.stdout.write(yaml.safe_dump(run(config, work), sort_keys=False, allow_unicode=True))

    @app.command("import")
    def import_prompts(
        file: Annotated[Path, typer.Argument(help="YAML from `genosd prompt export`")],
        config: ConfigOption = None,
    ) -> None:
        """A new version of each prompt of the file that differs (all checked before saving)."""
        items = _read_yaml(file)
        if not isinstance(items, list):
            raise InvalidRequestError(f"{file}: expected a list of prompts")

        async def work(library: PromptLibrary, actor: str) -> list[str]:
            return await library.load(items, actor)

        changed = run(config, work)
        print(f"changed: {', '.join(changed) or 'nothing'}")

    return app
