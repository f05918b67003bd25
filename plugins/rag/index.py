"""Where chunks are stored and searched: Qdrant. By default Qdrant Edge, Qdrant's embedded engine,
in the plugin's data directory (no server, and Qdrant's own sparse and dense search in-process);
a Qdrant server when `plugins.rag.qdrant_url` is set. Each point holds a chunk's sparse BM25 vector
(IDF applied by Qdrant), its dense vector when an embedder is configured, and its text and
metadata as payload; searches are sparse, dense or both fused (distribution-based score fusion, or
reciprocal rank), filtered on tags, kind, device, source and date."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from genosd.plugin import PluginError
from plugins.rag.sparse import SparseVector

Mode = Literal["hybrid", "sparse", "dense"]
Fusion = Literal["dbsf", "rrf"]
KEYWORDS = ("tags", "kind", "device", "source", "doc")
_NAMESPACE = uuid.UUID("6f1c6a52-52b5-4d5e-9f7e-1b2c3d4e5f60")


class StoreBusy(PluginError):
    """The embedded store is open in another process (the daemon, usually)."""


@dataclass
class Filters:
    """What a search is limited to (all optional; several tags mean any of them)."""

    tags: list[str] = field(default_factory=list)
    kind: str | None = None
    device: str | None = None
    source: str | None = None
    doc: str | None = None
    since: float | None = None
    until: float | None = None

    def conditions(self) -> list[tuple[str, str, Any]]:
        """(operator, field, value) for every filter set: `any`, `eq`, or `range` (gte, lt)."""
        found: list[tuple[str, str, Any]] = []
        if self.tags:
            found.append(("any", "tags", list(self.tags)))
        for key in ("kind", "device", "source", "doc"):
            value = getattr(self, key)
            if value is not None:
                found.append(("eq", key, value))
        if self.since is not None or self.until is not None:
            found.append(("range", "date", (self.since, self.until)))
        return found


@dataclass(frozen=True)
class Point:
    """One chunk to store."""

    doc: str
    ordinal: int
    sparse: SparseVector
    dense: list[float] | None
    payload: dict[str, Any]


Vector = tuple[str, "SparseVector | list[float]"]  # ("sparse" | "dense", the query vector)


@dataclass(frozen=True)
class Hit:
    """A stored chunk a search found."""

    score: float
    payload: dict[str, Any]


def point_id(doc: str, ordinal: int) -> str:
    """The stable id of a document's chunk."""
    return str(uuid.uuid5(_NAMESPACE, f"{doc}:{ordinal}"))


class Index:
    """One collection of chunks; calls are blocking (run them in a worker thread)."""

    dense_size: int | None

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one writer or reader at a time on the engine

    def close(self) -> None:
        """Release the store (and the embedded engine's lock on its folder)."""

    def upsert(self, points: list[Point]) -> None:
        """Store chunks (replacing any with the same document and ordinal)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Make what was stored durable (a no-op where every write already is)."""

    def delete_document(self, doc: str) -> None:
        """Remove every chunk of a document."""
        raise NotImplementedError

    def count(self) -> int:
        """How many chunks are stored."""
        raise NotImplementedError

    def chunks_of(self, doc: str) -> list[dict[str, Any]]:
        """The payloads of a document's chunks (their text included), in order."""
        raise NotImplementedError

    def reset_dense(self, size: int | None) -> None:
        """Drop every dense vector and expect vectors of `size` from now on (a re-index with
        another embedder); sparse vectors and payloads stay."""
        raise NotImplementedError

    def add_dense(self, size: int) -> None:
        """Give a store with no dense vectors yet vectors of `size` (a server's embedding model
        reveals its size only when first used); PluginError when chunks are already stored
        under another size."""
        raise NotImplementedError

    def search(
        self,
        sparse: SparseVector | None,
        dense: list[float] | None,
        limit: int,
        filters: Filters | None = None,
        fusion: Fusion = "dbsf",
    ) -> list[Hit]:
        """The best chunks; with both vectors, the two result lists fused (`dbsf`: scores
        normalised by their distribution and summed; `rrf`: reciprocal rank). A dense vector is
        left out when the store holds none."""
        vectors: list[Vector] = []
        if sparse is not None and sparse.indices:
            vectors.append(("sparse", sparse))
        if dense is not None and self.dense_size:
            vectors.append(("dense", dense))
        if not vectors:
            return []
        with self._lock:
            return self._query(vectors, limit, filters, fusion)

    def _query(
        self, vectors: list[Vector], limit: int, filters: Filters | None, fusion: Fusion
    ) -> list[Hit]:
        """One query with one named vector, or the fusion of several (each prefetched
        `prefetch_depth(limit)` deep); the lock is held."""
        raise NotImplementedError


def prefetch_depth(limit: int) -> int:
    """How many candidates each vector brings to a fusion."""
    return max(limit * 4, 20)


def open_index(
    collection: str,
    dense_size: int | None,
    path: Path,
    url: str | None = None,
    api_key: str | None = None,
) -> Index:
    """The store: a Qdrant server at `url`, else Qdrant Edge under `path`."""
    if url is not None:
        from plugins.rag.store_server import ServerIndex

        return ServerIndex.open(collection, dense_size, url, api_key)
    from plugins.rag.store_edge import EdgeIndex

    return EdgeIndex.open(path / collection, dense_size)


def reindex_message(stored: int | None, size: int) -> str:
    """Why new vectors cannot join the stored ones."""
    return (
        f"the knowledge base holds vectors of {stored or 'no'} dimensions and the embedder "
        f'gives {size}: re-index it (`genosd rag reindex`, or POST …/jobs {{"kind": "reindex"}})'
    )
