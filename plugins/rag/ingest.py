"""Putting documents into the knowledge base: read, redact (secrets never reach the store),
hash (a duplicate is recognised, not stored twice), chunk, embed, store; a new version of a
source replaces the old one only once it is stored. A bad file is that file's error, never the
batch's."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from genosd.plugin import GenosdError, InvalidRequestError, NotFoundError
from plugins.rag.catalog import Catalog, DocumentRecord, new_id
from plugins.rag.chunking import Chunk, chunk_document
from plugins.rag.dense import Embedder
from plugins.rag.extract import SUFFIXES, Document, Kind, Section, extract, kind_of
from plugins.rag.index import Index, Point
from plugins.rag.settings import RagSettings
from plugins.rag.sparse import document_vector

Outcome = Literal["added", "updated", "duplicate"]
EMBED_BATCH = 64


@dataclass(frozen=True)
class Ingested:
    """What happened to one file."""

    source: str
    outcome: Outcome | None = None
    document: DocumentRecord | None = None
    error: str | None = None


@dataclass
class Metadata:
    """Where a document came from, beyond its file name."""

    tags: list[str] = field(default_factory=list)
    version: str | None = None
    device: str | None = None
    git_commit: str | None = None
    date: float | None = None
    author: str | None = None


@dataclass
class KnowledgeBase:
    """The catalog, the index and the embedder, as one plugin instance holds them."""

    settings: RagSettings
    catalog: Catalog
    index: Index
    embedder: Embedder | None
    redact: Callable[[str], str]

    async def ingest(
        self,
        name: str,
        data: bytes,
        source: str,
        meta: Metadata | None = None,
        kind: Kind | None = None,
    ) -> Ingested:
        """Store one file's content under `source`; errors are returned, not raised."""
        meta = meta or Metadata()
        try:
            return await self._ingest(name, data, source, meta, kind)
        except GenosdError as exc:
            return Ingested(source, error=str(exc))

    async def _ingest(
        self, name: str, data: bytes, source: str, meta: Metadata, kind: Kind | None
    ) -> Ingested:
        limit = int(self.settings.max_file_mb * 1024 * 1024)
        if len(data) > limit:
            raise InvalidRequestError(
                f"{name}: {len(data)} bytes, more than plugins.rag.max_file_mb allows"
            )
        parsed = await asyncio.to_thread(extract, name, data, kind)
        document = Document(
            self.redact(parsed.title),
            parsed.kind,
            [Section(s.heading, self.redact(s.text)) for s in parsed.sections],
        )
        # a device's config may return to an older text: it is still that device's current one
        scope = source if document.kind in ("config", "change") else ""
        digest = hashlib.sha256(f"{document.kind}\n{scope}\n{document.text}".encode()).hexdigest()
        same = await asyncio.to_thread(self.catalog.by_hash, digest)
        if same is not None:
            if same.source == source:  # seen unchanged: a watched folder need not look again
                await asyncio.to_thread(self.catalog.touch, same.id)
            return Ingested(source, "duplicate", same)
        older = await asyncio.to_thread(self.catalog.by_source, source)
        chunks = chunk_document(document, self.settings.chunk_words, self.settings.overlap_words)
        record = DocumentRecord(
            id=new_id(),
            source=source,
            title=document.title,
            kind=document.kind,
            tags=sorted(set(meta.tags)),
            version=meta.version or _next_version(older),
            sha256=digest,
            chunks=len(chunks),
            bytes=len(data),
            ingested_at=time.time(),
            embedder=self.embedder.id if self.embedder else None,
            device=meta.device,
            git_commit=meta.git_commit,
            date=meta.date,
            author=meta.author,
        )
        await self._store(record, chunks)
        await asyncio.to_thread(self.catalog.save, record, older.id if older else None)
        if older is not None:
            await asyncio.to_thread(self.index.delete_document, older.id)
        return Ingested(source, "updated" if older else "added", record)

    async def _store(self, record: DocumentRecord, chunks: list[Chunk]) -> None:
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            texts = [c.labelled(record.title) for c in batch]
            dense: list[list[float]] | list[None] = [None] * len(batch)
            if self.embedder is not None:
                dense = await self.embedder.passages(texts)
                record.embedder = self.embedder.id
                if dense and self.index.dense_size != len(dense[0]):
                    await asyncio.to_thread(self.index.add_dense, len(dense[0]))
            points = [
                Point(
                    record.id,
                    chunk.ordinal,
                    document_vector(text),
                    vector,
                    _payload(record, chunk),
                )
                for chunk, text, vector in zip(batch, texts, dense, strict=True)
            ]
            await asyncio.to_thread(self.index.upsert, points)
        await asyncio.to_thread(self.index.flush)  # durable before the catalog names it

    async def wanted_dense_size(self) -> int | None:
        """The size of the embedder's vectors (None without one)."""
        if self.embedder is None:
            return None
        return len(await self.embedder.query("size"))

    async def reindex(self, document_id: str) -> DocumentRecord:
        """Weigh and embed a document's stored chunks again (its text is in the store)."""
        record = await asyncio.to_thread(self.catalog.get, document_id)
        payloads = await asyncio.to_thread(self.index.chunks_of, document_id)
        if not payloads:
            raise NotFoundError(f"document {document_id} has no chunks in the store")
        chunks = [
            Chunk(
                int(p.get("ordinal", n)),
                tuple(p.get("heading") or ()),
                str(p.get("text", "")),
                p.get("line_start"),
                p.get("line_end"),
            )
            for n, p in enumerate(payloads)
        ]
        await self._store(record, chunks)
        await asyncio.to_thread(self.catalog.save, record, record.id)
        return record

    async def delete(self, document_id: str) -> DocumentRecord:
        """Remove a document and its chunks."""
        record = await asyncio.to_thread(self.catalog.delete, document_id)
        await asyncio.to_thread(self.index.delete_document, record.id)
        return record


def _next_version(older: DocumentRecord | None) -> str:
    if older is None:
        return "1"
    return str(int(older.version) + 1) if older.version.isdigit() else f"{older.version}+1"


def _payload(record: DocumentRecord, chunk: Chunk) -> dict[str, Any]:
    return {
        "doc": record.id,
        "source": record.source,
        "title": record.title,
        "kind": record.kind,
        "tags": record.tags,
        "version": record.version,
        "heading": list(chunk.heading),
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "device": record.device,
        "commit": record.git_commit,
        "date": record.date if record.date is not None else record.ingested_at,
        "ingested_at": record.ingested_at,
        "author": record.author,
        "line_start": chunk.line_start,
        "line_end": chunk.line_end,
    }


def files_under(path: Path) -> Iterator[Path]:
    """The readable documents at `path` (a file, or every document file under a folder)."""
    if path.is_file():
        yield path
        return
    for candidate in sorted(path.rglob("*")):
        if not candidate.is_file() or any(p.startswith(".") for p in candidate.parts[-3:]):
            continue
        if candidate.suffix.lower() in SUFFIXES or kind_of(candidate.name, b"") == "man":
            yield candidate
