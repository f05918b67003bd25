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

from genosd.plugin import (
    Api,
    Job,
    OpenPlugin,
    PluginContext,
    Role,
    Sink,
    Tool,
    Topic,
    hookimpl,
)
from plugins.rag.settings import RagSettings

JOB_TOPIC = "rag.job"
HISTORY_RUNS = ("config_backup", "config_deploy")


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


def job_queue(context: PluginContext) -> Any:
    """The plugin's job queue (the same SQLite file as the catalog)."""
    from plugins.rag.jobs import JobQueue

    return context.get_or_create("jobs", lambda: JobQueue(context.data_dir / "rag.sqlite3"))


@hookimpl
def genosd_topics() -> list[Topic]:
    """`rag.job`: progress of ingest and delete jobs."""
    return [Topic(JOB_TOPIC, Role.viewer, "knowledge base jobs: progress after every file")]


@hookimpl
def genosd_config_model() -> type[BaseModel]:
    """Settings model."""
    return RagSettings


@hookimpl
def genosd_routes(config: RagSettings, context: PluginContext) -> Api:
    """Documents, search and answers over HTTP."""
    from plugins.rag.routes import rag_routes

    return rag_routes(lambda: knowledge_base(config, context), lambda: job_queue(context), context)


@hookimpl
def genosd_jobs(config: RagSettings, context: PluginContext) -> list[Job]:
    """`jobs`: run queued ingest and delete jobs (the API's, the CLI's, the watched folders');
    `history`: index new config commits; `watch`: look for changed files in watched folders."""
    import asyncio

    async def run_jobs() -> int:
        from plugins.rag.jobs import run_queued

        queue = job_queue(context)
        if not await asyncio.to_thread(queue.pending):
            return 0
        kb = await asyncio.to_thread(knowledge_base, config, context)
        ran = await run_queued(kb, queue, lambda job: context.publish(JOB_TOPIC, job.progress()))
        return len(ran)

    async def follow() -> int:
        return await _follow_history(config, context)

    async def watch() -> int:
        from plugins.rag.folders import scan

        kb = await asyncio.to_thread(knowledge_base, config, context)
        queued = []
        for folder in config.folders:
            if folder.watch:
                queued += await asyncio.to_thread(scan, folder, kb.catalog, job_queue(context))
        return len(queued)

    jobs = [Job("jobs", run_jobs, every=2, quiet=True)]
    if config.history:
        jobs.append(Job("history", follow, every=config.history_every))
    if any(f.watch for f in config.folders):
        jobs.append(Job("watch", watch, every=config.watch_every))
    return jobs


async def _follow_history(config: RagSettings, context: PluginContext) -> int:
    """Index new config commits (one look at a time: the job and the sink share it)."""
    import asyncio

    from plugins.rag.history import follow_history

    async with context.get_or_create("history_lock", asyncio.Lock):
        kb = await asyncio.to_thread(knowledge_base, config, context)
        return await follow_history(kb, context)


@hookimpl
def genosd_sinks(config: RagSettings, context: PluginContext) -> list[Sink]:
    """`history`: index a backup's or deploy's commits as soon as the run finishes."""
    if not config.history:
        return []

    async def on_run(topic: str, data: dict[str, Any]) -> None:
        if data.get("status") == "finished" and data.get("kind") in HISTORY_RUNS:
            await _follow_history(config, context)

    return [Sink("history", topics=("run",), on_event=on_run, queue_size=100)]


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
