"""prompt: the prompt library — versioned prompts users tune, genosd's own among them.

Each prompt is a Jinja2 template (sandboxed, undefined names refused) with typed variables, a
task kind, an optional JSON Schema for the answer and tags. Every edit (API or CLI) makes a new
version, makes it active and is audited; any two versions can be diffed; a rollback brings an old
version back as a new one; the library exports and imports as data. genosd's own prompts (config
review and generation, diff summary, incident summary, show-output explanation) are seeded from
genosd's built-in texts on first start and never overwritten after that; genosd's features use
their active version. Routes: /api/v1/plugins/prompt/… (viewers read, operators test, admins
edit); CLI: `genosd prompt …`. Stored in <state_dir>/plugins/prompt/prompts.sqlite3.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from genosd.plugin import Api, OpenPlugin, PluginContext, PromptSource, hookimpl
from plugins.prompt.library import PromptSettings, library_for


@hookimpl
def genosd_config_model() -> type[BaseModel]:
    """Settings model."""
    return PromptSettings


@hookimpl
def genosd_routes(config: PromptSettings, context: PluginContext) -> Api:
    """The library's routes."""
    from plugins.prompt.routes import prompt_routes

    return prompt_routes(library_for(config, context))


@hookimpl
def genosd_prompt_source(config: PromptSettings, context: PluginContext) -> PromptSource:
    """genosd's features read the active version of their prompts here."""
    return library_for(config, context).store.lookup


@hookimpl
def genosd_cli(open_plugin: OpenPlugin) -> Any:
    """`genosd prompt list|show|versions|edit|diff|rollback|test|cases|compare|export|import`."""
    from plugins.prompt.cli import commands

    return commands(open_plugin)
