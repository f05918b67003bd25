"""The knowledge base over HTTP, under /api/v1/plugins/rag: viewers search and ask, operators add
and remove documents; and the chat assistant's search tool."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genosd.plugin import Api, InvalidRequestError, PluginContext, Role, Tool
from plugins.rag.catalog import DocumentRecord
from plugins.rag.index import Filters, Mode
from plugins.rag.ingest import Ingested, KnowledgeBase, Metadata
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
    offset: int = Field(0, ge=0)


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


def rag_routes(open_kb: Opener, context: PluginContext) -> Api:
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
        return ingested_or_raise(result)

    @api.route("DELETE", "/documents/{id}", tag=tag, role=Role.operator, response=DocumentRecord)
    async def delete(request: web.Request) -> DocumentRecord:
        """Remove a document and its chunks."""
        kb = await asyncio.to_thread(open_kb)
        return await kb.delete(request.match_info["id"])

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
