"""The knowledge base over HTTP, under /api/v1/plugins/rag: viewers search and ask, operators add
and remove documents; and the chat assistant's search tool."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genosd.plugin import PRINCIPAL, Api, InvalidRequestError, PluginContext, Role, Tool
from plugins.rag.catalog import DocumentRecord
from plugins.rag.folders import allowed, expand
from plugins.rag.index import Filters, Mode
from plugins.rag.ingest import Ingested, KnowledgeBase, Metadata
from plugins.rag.jobs import JobQueue, JobRecord
from plugins.rag.retrieve import Answer, Passage, answer, search

Opener = Callable[[], KnowledgeBase]
TAG = r"^[A-Za-z0-9_.:/-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scope(_Strict):
    """What to search in (all optional)."""

    tags: list[str] = Field(default_factory=list, max_length=20)
    kind: str | None = None
    device: str | None = None
    source: str | None = None
    since: float | None = Field(None, description="epoch seconds")
    until: float | None = None

    def filters(self) -> Filters:
        """As index filters."""
        return Filters(
            list(self.tags), self.kind, self.device, self.source, None, self.since, self.until
        )


class QueryIn(Scope):
    """A search."""

    query: str = Field(min_length=1, max_length=2000)
    mode: Mode = "hybrid"
    limit: int = Field(5, ge=1, le=50)


class PassageList(BaseModel):
    """Passages, best first."""

    items: list[Passage]


class AskIn(Scope):
    """A question."""

    question: str = Field(min_length=1, max_length=2000)
    model: str | None = Field(None, max_length=200)


class DocumentIn(_Strict):
    """A document to add: its text, or its bytes in base64 (PDF); a name with its extension."""

    name: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00]+$")
    content: str | None = None
    content_base64: str | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    version: str | None = Field(None, max_length=64)
    source: str | None = Field(None, max_length=500, description="default: upload:<name>")

    @model_validator(mode="after")
    def _one_content(self) -> DocumentIn:
        if (self.content is None) == (self.content_base64 is None):
            raise ValueError("give exactly one of content and content_base64")
        for tag in self.tags:
            if not re.match(TAG, tag):
                raise ValueError(f"tag {tag!r}: letters, digits and . _ : / - only")
        return self

    def data(self) -> bytes:
        """The file's bytes."""
        if self.content is not None:
            return self.content.encode()
        try:
            return base64.b64decode(self.content_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("content_base64 is not base64") from None


class IngestOut(BaseModel):
    """What happened to the document."""

    source: str
    outcome: str
    document: DocumentRecord


class DocumentList(BaseModel):
    """Documents, newest first."""

    items: list[DocumentRecord]
    total: int


class DocumentsQuery(_Strict):
    """Filters for the document list."""

    tag: str | None = None
    kind: str | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)


class JobIn(_Strict):
    """A job: ingest files or folders (inside plugins.rag.folders), delete documents, or
    re-index every document (after the embedder changed)."""

    kind: Literal["ingest", "delete", "reindex"]
    paths: list[str] = Field(default_factory=list, max_length=1000)
    documents: list[str] = Field(default_factory=list, max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    version: str | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _items(self) -> JobIn:
        if self.kind == "ingest" and (not self.paths or self.documents):
            raise ValueError("an ingest job takes paths (and no documents)")
        if self.kind == "delete" and (not self.documents or self.paths):
            raise ValueError("a delete job takes documents (and no paths)")
        if self.kind == "reindex" and (self.documents or self.paths):
            raise ValueError("a reindex job takes no paths or documents: it takes them all")
        return self


class JobList(BaseModel):
    """Jobs, newest first."""

    items: list[JobRecord]


class Status(BaseModel):
    """How big the knowledge base is and how it searches."""

    documents: int
    chunks: int
    embedder: str | None
    dense_size: int | None
    store: str


def ingested_or_raise(result: Ingested) -> IngestOut:
    """The API's answer for one ingested file (its error as a 400)."""
    if result.error is not None or result.document is None or result.outcome is None:
        raise InvalidRequestError(result.error or "not ingested")
    return IngestOut(source=result.source, outcome=result.outcome, document=result.document)


def actor_of(request: web.Request) -> str:
    """Who called, for the audit log."""
    return str(request[PRINCIPAL].principal)


def rag_routes(open_kb: Opener, open_jobs: Callable[[], JobQueue], context: PluginContext) -> Api:
    """The routes, opening the knowledge base on first use."""
    api = Api("rag", "1")
    tag = "rag"

    @api.route("POST", "/query", tag=tag, role=Role.viewer, body=QueryIn, response=PassageList)
    async def query(request: web.Request, body: QueryIn) -> PassageList:
        """The best passages for a query (hybrid, sparse or dense), each with its citation."""
        kb = await asyncio.to_thread(open_kb)
        found = await search(kb, body.query, body.mode, body.limit, body.filters())
        return PassageList(items=found)

    @api.route("POST", "/answer", tag=tag, role=Role.viewer, body=AskIn, response=Answer)
    async def ask(request: web.Request, body: AskIn) -> Answer:
        """An answer citing its passages (without a model: the passages themselves)."""
        kb = await asyncio.to_thread(open_kb)
        return await answer(kb, context, body.question, body.filters(), body.model)

    @api.route(
        "GET", "/documents", tag=tag, role=Role.viewer, query=DocumentsQuery, response=DocumentList
    )
    async def documents(request: web.Request, query: DocumentsQuery) -> DocumentList:
        """The documents in the knowledge base."""
        kb = await asyncio.to_thread(open_kb)
        items, total = await asyncio.to_thread(
            kb.catalog.list, query.tag, query.kind, query.limit, query.offset
        )
        return DocumentList(items=items, total=total)

    @api.route("GET", "/documents/{id}", tag=tag, role=Role.viewer, response=DocumentRecord)
    async def document(request: web.Request) -> DocumentRecord:
        """One document."""
        kb = await asyncio.to_thread(open_kb)
        return await asyncio.to_thread(kb.catalog.get, request.match_info["id"])

    @api.route(
        "POST", "/documents", tag=tag, role=Role.operator, body=DocumentIn, response=IngestOut
    )
    async def add(request: web.Request, body: DocumentIn) -> IngestOut:
        """Add a document (a new version of its source replaces the old; a duplicate is named)."""
        kb = await asyncio.to_thread(open_kb)
        meta = Metadata(tags=body.tags, version=body.version)
        result = await kb.ingest(body.name, body.data(), body.source or f"upload:{body.name}", meta)
        done = ingested_or_raise(result)
        details = {"outcome": done.outcome, "document": done.document.id}
        await context.audit(actor_of(request), "ingest", done.source, details)
        return done

    @api.route("DELETE", "/documents/{id}", tag=tag, role=Role.operator, response=DocumentRecord)
    async def delete(request: web.Request) -> DocumentRecord:
        """Remove a document and its chunks."""
        kb = await asyncio.to_thread(open_kb)
        removed = await kb.delete(request.match_info["id"])
        await context.audit(actor_of(request), "delete", removed.source, {"document": removed.id})
        return removed

    @api.route(
        "POST", "/jobs", tag=tag, role=Role.operator, body=JobIn, response=JobRecord, status=202
    )
    async def queue_job(request: web.Request, body: JobIn) -> JobRecord:
        """Queue an ingest (files and folders inside plugins.rag.folders) or a delete; it runs
        in the background with progress as `rag.job` events."""
        kb = await asyncio.to_thread(open_kb)
        if body.kind == "ingest":
            paths = [allowed(Path(p), kb.settings.folders) for p in body.paths]
            items = await asyncio.to_thread(expand, paths)
            if not items:
                raise InvalidRequestError("no document files at these paths")
            args: dict[str, Any] = {"tags": body.tags, "version": body.version}
        elif body.kind == "delete":
            items, args = list(dict.fromkeys(body.documents)), {}
        else:
            listed = await asyncio.to_thread(kb.catalog.list, None, None, 10**7, 0)
            items, args = [d.id for d in listed[0]], {}
        actor = actor_of(request)
        job = await asyncio.to_thread(open_jobs().queue, body.kind, items, args, actor)
        await context.audit(actor, f"{body.kind}_job", job.id, {"items": len(items)})
        return job

    @api.route("GET", "/jobs", tag=tag, role=Role.viewer, response=JobList)
    async def list_jobs(request: web.Request) -> JobList:
        """The newest jobs."""
        return JobList(items=await asyncio.to_thread(open_jobs().recent, 50))

    @api.route("GET", "/jobs/{id}", tag=tag, role=Role.viewer, response=JobRecord)
    async def get_job(request: web.Request) -> JobRecord:
        """One job and its progress."""
        return await asyncio.to_thread(open_jobs().get, request.match_info["id"])

    @api.route("POST", "/jobs/{id}/cancel", tag=tag, role=Role.operator, response=JobRecord)
    async def cancel_job(request: web.Request) -> JobRecord:
        """Stop a job between two files (a queued one at once)."""
        job = await asyncio.to_thread(open_jobs().request_cancel, request.match_info["id"])
        await context.audit(actor_of(request), "cancel_job", job.id, {})
        return job

    @api.route("GET", "/status", tag=tag, role=Role.viewer, response=Status)
    async def status(request: web.Request) -> Status:
        """Documents, chunks, the embedder and the store."""
        kb = await asyncio.to_thread(open_kb)
        documents, chunks = await asyncio.to_thread(kb.catalog.count)
        return Status(
            documents=documents,
            chunks=chunks,
            embedder=kb.embedder.id if kb.embedder else None,
            dense_size=kb.index.dense_size,
            store=kb.settings.qdrant_url or "local",
        )

    return api


class SearchArgs(_Strict):
    """What the assistant searches for."""

    query: str = Field(min_length=1, max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=10)
    limit: int = Field(5, ge=1, le=10)


def search_tool(open_kb: Opener) -> Tool:
    """The chat assistant's tool: passages from the knowledge base, with citations."""

    async def run(args: BaseModel) -> Any:
        assert isinstance(args, SearchArgs)
        kb = await asyncio.to_thread(open_kb)
        found = await search(kb, args.query, "hybrid", args.limit, Filters(tags=list(args.tags)))
        return [{"citation": p.citation, "text": p.text} for p in found]

    return Tool(
        "search_knowledge",
        "Search the team's network documents and config history; passages with citations.",
        SearchArgs,
        run,
        Role.viewer,
    )
