"""The prompt library's workflows, one for the API and the CLI: edits, rollbacks and imports
(each audited), saved cases, test runs and A/B comparisons (each stored)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genosd.plugin import (
    Ask,
    Audit,
    InvalidRequestError,
    NotFoundError,
    PluginContext,
    builtin_prompts,
)
from plugins.prompt.model import PromptBody, PromptVersion, render
from plugins.prompt.store import PromptStore
from plugins.prompt.testing import (
    Case,
    CaseRow,
    Comparison,
    RunResult,
    Side,
    run_once,
    totals,
)


class PromptSettings(BaseModel):
    """plugins.prompt in genosd.yaml."""

    model_config = ConfigDict(extra="forbid")

    seed: bool = Field(True, description="create genosd's own prompts on first start")


def library_for(config: PromptSettings, context: PluginContext) -> PromptLibrary:
    """The plugin's one library (its store seeded with genosd's prompts on first use)."""

    def create() -> PromptLibrary:
        store = PromptStore(context.data_dir / "prompts.sqlite3")
        if config.seed:
            created = store.seed(builtin_prompts())
            if created:
                context.log.info("seeded prompts: %s", ", ".join(created))
        return PromptLibrary(store, context.ask, context.audit)

    library: PromptLibrary = context.get_or_create("library", create)
    return library


class PromptLibrary:
    """The store, the LLM layer and the audit log, as the plugin was lent them."""

    def __init__(self, store: PromptStore, ask: Ask, audit: Audit):
        self.store = store
        self.ask = ask
        self.audit = audit

    async def edit(
        self, name: str, changes: dict[str, Any], actor: str, note: str = ""
    ) -> PromptVersion:
        """A new active version of `name` with `changes` (a new prompt when the name is new:
        `changes` must then hold at least a template)."""
        if name in await asyncio.to_thread(self.store.names):
            saved = await asyncio.to_thread(self.store.edit, name, changes, actor, note)
        else:
            try:
                created = PromptBody.model_validate(changes)
            except ValueError as exc:
                raise InvalidRequestError(f"a new prompt {name!r}: {exc}") from None
            saved = await asyncio.to_thread(self.store.save, name, created, actor, note)
        await self.audit(actor, "edit", name, {"version": saved.version, "note": note})
        return saved

    async def rollback(self, name: str, version: int, actor: str) -> PromptVersion:
        """A new active version with the content of `version`."""
        saved = await asyncio.to_thread(self.store.rollback, name, version, actor)
        await self.audit(actor, "rollback", name, {"version": saved.version, "content_of": version})
        return saved

    async def load(self, items: list[dict[str, Any]], actor: str) -> list[str]:
        """Import exported prompts (all checked before any is saved); the names changed."""
        changed = await asyncio.to_thread(self.store.load, items, actor)
        for name in changed:
            await self.audit(actor, "import", name, {})
        return changed

    async def save_case(self, name: str, case: Case) -> Case:
        """Add or replace a test case; refused when the active version cannot render it."""
        prompt = await asyncio.to_thread(self.store.get, name)
        render(prompt, case.variables)
        return await asyncio.to_thread(self.store.save_case, name, case)

    async def test(
        self,
        name: str,
        variables: dict[str, Any],
        version: int | None = None,
        model: str | None = None,
    ) -> RunResult:
        """Run a version (the active one by default) with `variables` on a model; stored."""
        prompt = await asyncio.to_thread(self.store.get, name, version)
        result = await run_once(self.ask, prompt, variables, model=model)
        await asyncio.to_thread(self.store.save_runs, name, [result])
        return result

    async def test_case(
        self, name: str, case_name: str, version: int | None = None, model: str | None = None
    ) -> RunResult:
        """Run one saved case and check its answer; stored."""
        case = next((c for c in await self.cases(name) if c.name == case_name), None)
        if case is None:
            raise NotFoundError(f"prompt {name!r} has no test case {case_name!r}")
        prompt = await asyncio.to_thread(self.store.get, name, version)
        result = await run_once(self.ask, prompt, case.variables, model=model, case=case)
        await asyncio.to_thread(self.store.save_runs, name, [result])
        return result

    async def cases(self, name: str) -> list[Case]:
        """The saved cases of a prompt."""
        await asyncio.to_thread(self.store.get, name)
        return await asyncio.to_thread(self.store.cases, name)

    async def compare(self, name: str, a: Side, b: Side) -> Comparison:
        """Every saved case on side a and side b (versions and/or models), side by side."""
        cases = await asyncio.to_thread(self.store.cases, name)
        if not cases:
            raise InvalidRequestError(f"prompt {name!r} has no test cases: add some first")
        left, right = [await asyncio.to_thread(self.store.get, name, s.version) for s in (a, b)]
        rows = []
        for case in cases:
            result_a = await run_once(self.ask, left, case.variables, model=a.model, case=case)
            result_b = await run_once(self.ask, right, case.variables, model=b.model, case=case)
            rows.append(CaseRow(case=case.name, a=result_a, b=result_b))
        comparison = uuid.uuid4().hex[:12]
        await asyncio.to_thread(
            self.store.save_runs, name, [r for row in rows for r in (row.a, row.b)], comparison
        )
        return Comparison(
            id=comparison,
            rows=rows,
            a=totals([r.a for r in rows]),
            b=totals([r.b for r in rows]),
        )
