"""prompt: the prompt library — versioned prompts users tune, genosd's own among them.

Each prompt is a Jinja2 template (sandboxed, undefined names refused) with typed variables, a
task kind, an optional JSON Schema for the answer and tags. Every edit through the API makes a
new version and makes it active; any two versions can be diffed; a rollback brings an old
version back as a new one; the library exports and imports as data. genosd's own prompts (config
review and generation, diff summary, incident summary, show-output explanation) are seeded from
`seeds/` on first start and never overwritten after that. Routes: /api/v1/plugins/prompt/…
(viewers read, operators render, admins edit). Stored in <state_dir>/plugins/prompt/prompts.sqlite3.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from genosd.plugin import Api, PluginContext, hookimpl
from plugins.prompt.routes import prompt_routes
from plugins.prompt.store import PromptStore

SEEDS = Path(__file__).parent / "seeds"


class PromptSettings(BaseModel):
    """plugins.prompt in genosd.yaml."""

    model_config = ConfigDict(extra="forbid")

    seed: bool = Field(True, description="create genosd's own prompts on first start")


def _store(config: PromptSettings, context: PluginContext) -> PromptStore:
    def create() -> PromptStore:
        store = PromptStore(context.data_dir / "prompts.sqlite3")
        if config.seed:
            created = store.seed(SEEDS)
            if created:
                context.log.info("seeded prompts: %s", ", ".join(created))
        return store

    store: PromptStore = context.get_or_create("store", create)
    return store


@hookimpl
def genosd_config_model() -> type[BaseModel]:
    """Settings model."""
    return PromptSettings


@hookimpl
def genosd_routes(config: PromptSettings, context: PluginContext) -> Api:
    """The library's routes."""
    return prompt_routes(_store(config, context), context.ask)
