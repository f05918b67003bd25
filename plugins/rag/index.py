"""The chunks in Qdrant: local mode under the plugin's data directory by default, a Qdrant server
when `plugins.rag.qdrant_url` is set. Each point holds a chunk's sparse BM25 vector (IDF applied
by Qdrant), its dense vector when an embedder is configured, and its text and metadata as payload;
searches are sparse, dense or both fused by reciprocal rank, filtered on tags, kind, device,
source and date."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qdrant_client import QdrantClient, models

from genosd.plugin import PluginError
from plugins.rag.sparse import SparseVector

Mode = Literal["hybrid", "sparse", "dense"]
_NAMESPACE = uuid.UUID("6f1c6a52-52b5-4d5e-9f7e-1b2c3d4e5f60")
_FILTER_KEYS = ("tags", "kind", "device", "source", "doc")


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

    def qdrant(self) -> models.Filter | None:
        """The Qdrant filter, None when nothing is filtered."""
        must: list[Any] = []
        if self.tags:
            must.append(models.FieldCondition(key="tags", match=models.MatchAny(any=self.tags)))
        for key in ("kind", "device", "source", "doc"):
            value = getattr(self, key)
            if value is not None:
                must.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
        if self.since is not None or self.until is not None:
            must.append(
                models.FieldCondition(key="date", range=models.Range(gte=self.since, lt=self.until))
            )
        return models.Filter(must=must) if must else None


@dataclass(frozen=True)
class Point:
    """One chunk to store."""

    doc: str
    ordinal: int
    sparse: SparseVector
    dense: list[float] | None
    payload: dict[str, Any]


def point_id(doc: str, ordinal: int) -> str:
    """The stable id of a document's chunk."""
    return str(uuid.uuid5(_NAMESPACE, f"{doc}:{ordinal}"))


class Index:
    """One collection; calls are blocking (run them in a worker thread)."""

    def __init__(
        self, client: QdrantClient, collection: str, dense_size: int | None, remote: bool = False
    ):
        self.client = client
        self.remote = remote
        self.collection = collection
        self.dense_size = dense_size
        self._lock = threading.Lock()  # local mode is not safe for concurrent writers

    @classmethod
    def open(
        cls,
        collection: str,
        dense_size: int | None,
        path: Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
    ) -> Index:
        """The index at `url` (a Qdrant server) or in local mode under `path`."""
        try:
            if url is not None:
                client = QdrantClient(url=url, api_key=api_key, timeout=30)
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                client = QdrantClient(path=str(path))
        except RuntimeError as exc:  # local mode: the folder is open in another process
            raise PluginError(
                f"the knowledge base at {path} is open in another process (the daemon?): {exc}"
            ) from None
        index = cls(client, collection, dense_size, remote=url is not None)
        index._ensure()
        return index

    def close(self) -> None:
        """Release the client (and local mode's lock on its folder)."""
        self.client.close()

    def _ensure(self) -> None:
        if self.client.collection_exists(self.collection):
            info = self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            existing = vectors.get("dense") if isinstance(vectors, dict) else None
            size = existing.size if existing is not None else None
            if size != self.dense_size:
                self.dense_size = size  # searches use what the stored vectors are
            return
        dense = (
            {"dense": models.VectorParams(size=self.dense_size, distance=models.Distance.COSINE)}
            if self.dense_size
            else {}
        )
        self.client.create_collection(
            self.collection,
            vectors_config=dense,
            sparse_vectors_config={
                "sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)
            },
        )
        if self.remote:  # local mode filters by scanning; a server needs the indexes
            for key in _FILTER_KEYS:
                self.client.create_payload_index(
                    self.collection, key, models.PayloadSchemaType.KEYWORD
                )
            self.client.create_payload_index(
                self.collection, "date", models.PayloadSchemaType.FLOAT
            )

    def add_dense(self, size: int) -> None:
        """Give a collection that has no dense vectors yet some of `size` (first ingest with a
        server's embedding model, whose size is known only then); PluginError when chunks are
        already stored under another size."""
        if self.dense_size == size:
            return
        if self.count() > 0:
            raise PluginError(
                f"the knowledge base holds vectors of {self.dense_size or 'no'} dimensions and "
                f"the embedder gives {size}: re-index it (`genosd rag reindex`)"
            )
        with self._lock:
            self.client.delete_collection(self.collection)
        self.dense_size = size
        self._ensure()

    def upsert(self, points: list[Point]) -> None:
        """Store chunks (replacing any with the same document and ordinal)."""
        structs = []
        for p in points:
            vector: dict[str, Any] = {
                "sparse": models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)
            }
            if p.dense is not None and self.dense_size:
                vector["dense"] = p.dense
            structs.append(
                models.PointStruct(id=point_id(p.doc, p.ordinal), vector=vector, payload=p.payload)
            )
        with self._lock:
            self.client.upsert(self.collection, structs, wait=True)

    def delete_document(self, doc: str) -> None:
        """Remove every chunk of a document."""
        selector = models.FilterSelector(
            filter=models.Filter(
                must=[models.FieldCondition(key="doc", match=models.MatchValue(value=doc))]
            )
        )
        with self._lock:
            self.client.delete(self.collection, points_selector=selector, wait=True)

    def count(self) -> int:
        """How many chunks are stored."""
        with self._lock:
            return int(self.client.count(self.collection, exact=True).count)

    def search(
        self,
        sparse: SparseVector | None,
        dense: list[float] | None,
        limit: int,
        filters: Filters | None = None,
    ) -> list[models.ScoredPoint]:
        """The best chunks: fused by reciprocal rank when both vectors are given."""
        flt = filters.qdrant() if filters else None
        sparse_query = (
            models.SparseVector(indices=sparse.indices, values=sparse.values)
            if sparse is not None and sparse.indices
            else None
        )
        use_dense = dense is not None and bool(self.dense_size)
        with self._lock:
            if sparse_query is not None and use_dense:
                depth = max(limit * 4, 20)
                result = self.client.query_points(
                    self.collection,
                    prefetch=[
                        models.Prefetch(
                            query=sparse_query, using="sparse", limit=depth, filter=flt
                        ),
                        models.Prefetch(query=dense, using="dense", limit=depth, filter=flt),
                    ],
                    query=models.FusionQuery(fusion=models.Fusion.RRF),
                    limit=limit,
                    with_payload=True,
                )
            elif use_dense:
                result = self.client.query_points(
                    self.collection, query=dense, using="dense", limit=limit, query_filter=flt
                )
            elif sparse_query is not None:
                result = self.client.query_points(
                    self.collection,
                    query=sparse_query,
                    using="sparse",
                    limit=limit,
                    query_filter=flt,
                )
            else:
                return []
        return list(result.points)
