"""rag: the knowledge base — network documents answered with citations, offline by default.

Markdown, plain text, HTML, PDF and man pages are extracted with their headings, redacted with
genosd's secret patterns, chunked without crossing a heading, and stored in Qdrant (local mode
under <state_dir>/plugins/rag, or a server) with a sparse BM25 vector and a dense vector from the
offline model shipped in `model/`. Questions are answered by hybrid retrieval and, when a model
is configured, by genosd's `rag-answer` prompt citing the passages; without a model the ranked
passages are the answer. Routes: /api/v1/plugins/rag/…; CLI: `genosd rag …`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from genosd.plugin import Api, Job, OpenPlugin, PluginContext, Tool, hookimpl
from plugins.rag.settings import RagSettings


def knowledge_base(config: RagSettings, context: PluginContext) -> Any:
    """The plugin's one knowledge base (opened on first use: local mode locks its folder)."""
    from plugins.rag.catalog import Catalog
    from plugins.rag.dense import make_embedder
    from plugins.rag.index import open_index
    from plugins.rag.ingest import KnowledgeBase

    def create() -> KnowledgeBase:
        embedder = make_embedder(config.embedder, context.embed, config.embed_model)
        size = {"static": 256, "minilm": 384}.get(config.embedder)
        key = config.qdrant_api_key.get_secret_value() if config.qdrant_api_key else None
        index = open_index(config.collection, size, context.data_dir, config.qdrant_url, key)
        catalog = Catalog(context.data_dir / "rag.sqlite3")
        return KnowledgeBase(config, catalog, index, embedder, context.redact)

    return context.get_or_create("kb", create)


@hookimpl
def genosd_config_model() -> type[BaseModel]:
    """Settings model."""
    return RagSettings


@hookimpl
def genosd_routes(config: RagSettings, context: PluginContext) -> Api:
    """Documents, search and answers over HTTP."""
    from plugins.rag.routes import rag_routes

    return rag_routes(lambda: knowledge_base(config, context), context)


@hookimpl
def genosd_jobs(config: RagSettings, context: PluginContext) -> list[Job]:
    """`history`: index new config history commits (when plugins.rag.history is on)."""
    if not config.history:
        return []

    async def follow() -> int:
        import asyncio

        from plugins.rag.history import follow_history

        kb = await asyncio.to_thread(knowledge_base, config, context)
        return await follow_history(kb, context)

    return [Job("history", follow, every=config.history_every)]


@hookimpl
def genosd_tools(config: RagSettings, context: PluginContext) -> list[Tool]:
    """`search_knowledge`: the chat assistant's way into the knowledge base."""
    from plugins.rag.routes import search_tool

    return [search_tool(lambda: knowledge_base(config, context))]


@hookimpl
def genosd_cli(open_plugin: OpenPlugin) -> Any:
    """`genosd rag ingest|query|ask|docs|delete`."""
    from plugins.rag.cli import commands

    return commands(open_plugin)
