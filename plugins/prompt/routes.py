"""The prompt library over HTTP, under /api/v1/plugins/prompt: viewers read, operators render,
admins edit, roll back and import."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from genosd.plugin import PRINCIPAL, Api, Role
from plugins.prompt.library import PromptLibrary
from plugins.prompt.model import PromptVersion, check_name, render
from plugins.prompt.testing import Case, CompareIn, Comparison, RunResult


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptList(BaseModel):
    """Every prompt's active version."""

    items: list[PromptVersion]


class VersionQuery(_Strict):
    """Which version (the active one when not given)."""

    version: int | None = Field(None, ge=1, le=1_000_000_000)


class DiffQuery(_Strict):
    """The two versions to compare."""

    a: int = Field(ge=1, le=1_000_000_000)
    b: int = Field(ge=1, le=1_000_000_000)


class DiffOut(BaseModel):
    """A unified diff of every field, as YAML."""

    lines: list[str]


class EditIn(_Strict):
    """The fields to change (a new prompt needs at least `template`), and why."""

    description: str | None = None
    kind: str | None = None
    system: str | None = None
    template: str | None = None
    variables: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    tags: list[str] | None = None
    note: str = Field("", max_length=500)


class RollbackIn(_Strict):
    """The version to bring back (as a new version)."""

    version: int = Field(ge=1, le=1_000_000_000)


class RenderIn(_Strict):
    """Variables for a render, and which version."""

    variables: dict[str, Any] = {}
    version: int | None = Field(None, ge=1, le=1_000_000_000)


class Messages(BaseModel):
    """What a model would be sent (before genosd's redaction)."""

    name: str
    version: int
    kind: str
    messages: list[dict[str, str]]


class ImportIn(_Strict):
    """Prompts as `GET /export` gives them."""

    items: list[dict[str, Any]] = Field(max_length=1000)


class Changed(BaseModel):
    """The prompts an import gave a new version."""

    changed: list[str]


def _actor(request: web.Request) -> str:
    return str(request[PRINCIPAL].principal)


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    check_name(name)
    return name


class TestIn(_Strict):
    """One test run: variables, which version (the active one by default), which model (the
    kind's routing by default)."""

    variables: dict[str, Any] = {}
    version: int | None = Field(None, ge=1, le=1_000_000_000)
    model: str | None = Field(None, max_length=200)


class CaseList(BaseModel):
    """The saved cases of a prompt."""

    items: list[Case]


class RunList(BaseModel):
    """Newest test-run results first."""

    items: list[dict[str, Any]]


def prompt_routes(library: PromptLibrary) -> Api:
    """The routes, bound to this library."""
    store = library.store
    api = Api("prompt", "1")
    tag = "prompt"

    @api.route(
        "POST", "/prompts/{name}/test", tag=tag, role=Role.operator, body=TestIn, response=RunResult
    )
    async def test(request: web.Request, body: TestIn) -> RunResult:
        """Run a version with these variables on a model; its answer, cost and schema check."""
        return await library.test(_name(request), body.variables, body.version, body.model)

    @api.route("GET", "/prompts/{name}/cases", tag=tag, role=Role.viewer, response=CaseList)
    async def list_cases(request: web.Request) -> CaseList:
        """The saved test cases of a prompt."""
        return CaseList(items=await library.cases(_name(request)))

    @api.route(
        "PUT", "/prompts/{name}/cases", tag=tag, role=Role.operator, body=Case, response=Case
    )
    async def put_case(request: web.Request, body: Case) -> Case:
        """Add or replace a test case (its variables and the check its answer must pass)."""
        return await library.save_case(_name(request), body)

    @api.route(
        "POST",
        "/prompts/{name}/compare",
        tag=tag,
        role=Role.operator,
        body=CompareIn,
        response=Comparison,
    )
    async def compare(request: web.Request, body: CompareIn) -> Comparison:
        """Every saved case on side a and side b (versions and/or models), side by side."""
        return await library.compare(_name(request), body.a, body.b)

    @api.route("GET", "/prompts/{name}/runs", tag=tag, role=Role.viewer, response=RunList)
    async def list_runs(request: web.Request) -> RunList:
        """The newest test-run results of a prompt (single runs and comparisons)."""
        return RunList(items=await asyncio.to_thread(store.runs, _name(request)))

    @api.route("GET", "/prompts", tag=tag, role=Role.viewer, response=PromptList)
    async def list_prompts(request: web.Request) -> PromptList:
        """Every prompt's active version."""
        return PromptList(items=await asyncio.to_thread(store.active_versions))

    @api.route(
        "GET",
        "/prompts/{name}",
        tag=tag,
        role=Role.viewer,
        query=VersionQuery,
        response=PromptVersion,
    )
    async def get_prompt(request: web.Request, query: VersionQuery) -> PromptVersion:
        """A prompt's active version (or `?version=`)."""
        return await asyncio.to_thread(store.get, _name(request), query.version)

    @api.route("GET", "/prompts/{name}/versions", tag=tag, role=Role.viewer, response=PromptList)
    async def list_versions(request: web.Request) -> PromptList:
        """Every version of a prompt, newest first."""
        return PromptList(items=await asyncio.to_thread(store.versions, _name(request)))

    @api.route(
        "GET", "/prompts/{name}/diff", tag=tag, role=Role.viewer, query=DiffQuery, response=DiffOut
    )
    async def diff(request: web.Request, query: DiffQuery) -> DiffOut:
        """What changed from version a to version b."""
        return DiffOut(lines=await asyncio.to_thread(store.diff, _name(request), query.a, query.b))

    @api.route(
        "PUT", "/prompts/{name}", tag=tag, role=Role.admin, body=EditIn, response=PromptVersion
    )
    async def edit(request: web.Request, body: EditIn) -> PromptVersion:
        """A new active version with these changes (a new prompt when the name is new)."""
        changes = body.model_dump(exclude_unset=True, exclude={"note"})
        return await library.edit(_name(request), changes, _actor(request), body.note)

    @api.route(
        "POST",
        "/prompts/{name}/rollback",
        tag=tag,
        role=Role.admin,
        body=RollbackIn,
        response=PromptVersion,
    )
    async def rollback(request: web.Request, body: RollbackIn) -> PromptVersion:
        """Make an old version's content the active one again (as a new version)."""
        return await library.rollback(_name(request), body.version, _actor(request))

    @api.route(
        "POST",
        "/prompts/{name}/render",
        tag=tag,
        role=Role.operator,
        body=RenderIn,
        response=Messages,
    )
    async def render_prompt(request: web.Request, body: RenderIn) -> Messages:
        """The messages a version gives with these variables (nothing is sent to a model)."""
        version = await asyncio.to_thread(store.get, _name(request), body.version)
        return Messages(
            name=version.name,
            version=version.version,
            kind=version.kind,
            messages=render(version, body.variables),
        )

    @api.route("GET", "/export", tag=tag, role=Role.viewer, response=ImportIn)
    async def export(request: web.Request) -> ImportIn:
        """Every prompt's active version, for `POST /import` elsewhere."""
        return ImportIn(items=await asyncio.to_thread(store.export))

    @api.route("POST", "/import", tag=tag, role=Role.admin, body=ImportIn, response=Changed)
    async def import_prompts(request: web.Request, body: ImportIn) -> Changed:
        """Prompts from an export: a new version of each that differs (all checked first)."""
        return Changed(changed=await library.load(body.items, _actor(request)))

    return api
