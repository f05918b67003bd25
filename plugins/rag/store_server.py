"""The chunks on a Qdrant server (`plugins.rag.qdrant_url`), through qdrant-client."""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient, models

from genosd.plugin import PluginError
from plugins.rag.index import (
    KEYWORDS,
    Filters,
    Fusion,
    Hit,
    Index,
    Point,
    Vector,
    point_id,
    prefetch_depth,
    reindex_message,
)
from plugins.rag.sparse import SparseVector

_FUSIONS = {"dbsf": models.Fusion.DBSF, "rrf": models.Fusion.RRF}


def _filter(filters: Filters | None) -> models.Filter | None:
    must: list[Any] = []
    for operator, key, value in filters.conditions() if filters else []:
        if operator == "any":
            must.append(models.FieldCondition(key=key, match=models.MatchAny(any=value)))
        elif operator == "eq":
            must.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
        else:
            gte, lt = value
            must.append(models.FieldCondition(key=key, range=models.Range(gte=gte, lt=lt)))
    return models.Filter(must=must) if must else None


class ServerIndex(Index):
    """One collection on a Qdrant server."""

    def __init__(self, client: QdrantClient, collection: str, dense_size: int | None):
        super().__init__()
        self.client = client
        self.collection = collection
        self.dense_size = dense_size

    @classmethod
    def open(
        cls, collection: str, dense_size: int | None, url: str, api_key: str | None
    ) -> ServerIndex:
        """The collection on the server (created with its payload indexes if missing)."""
        index = cls(QdrantClient(url=url, api_key=api_key, timeout=30), collection, dense_size)
        try:
            index._ensure()
        except Exception as exc:  # qdrant-client raises transport and API errors of many kinds
            raise PluginError(f"Qdrant at {url}: {exc}") from None
        return index

    def close(self) -> None:
        """Release the client."""
        self.client.close()

    def _ensure(self) -> None:
        if self.client.collection_exists(self.collection):
            vectors = self.client.get_collection(self.collection).config.params.vectors
            existing = vectors.get("dense") if isinstance(vectors, dict) else None
            self.dense_size = existing.size if existing is not None else None
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
        for key in KEYWORDS:
            self.client.create_payload_index(self.collection, key, models.PayloadSchemaType.KEYWORD)
        self.client.create_payload_index(self.collection, "date", models.PayloadSchemaType.FLOAT)

    def add_dense(self, size: int) -> None:
        """Vectors of `size` for a collection that is still empty."""
        if self.dense_size == size:
            return
        if self.count() > 0:
            raise PluginError(reindex_message(self.dense_size, size))
        with self._lock:
            self.client.delete_collection(self.collection)
        self.dense_size = size
        self._ensure()

    def upsert(self, points: list[Point]) -> None:
        """Store chunks."""
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
        selector = models.FilterSelector(filter=_filter(Filters(doc=doc)))
        with self._lock:
            self.client.delete(self.collection, points_selector=selector, wait=True)

    def count(self) -> int:
        """How many chunks are stored."""
        with self._lock:
            return int(self.client.count(self.collection, exact=True).count)

    def chunks_of(self, doc: str) -> list[dict[str, Any]]:
        """A document's chunk payloads, in order."""
        found: list[dict[str, Any]] = []
        offset = None
        with self._lock:
            while True:
                records, offset = self.client.scroll(
                    self.collection,
                    scroll_filter=_filter(Filters(doc=doc)),
                    limit=1000,
                    offset=offset,
                    with_payload=True,
                )
                found += [dict(r.payload or {}) for r in records]
                if offset is None:
                    break
        return sorted(found, key=lambda p: int(p.get("ordinal", 0)))

    def reset_dense(self, size: int | None) -> None:
        """A server collection keeps its vector sizes: another size needs a new collection."""
        if size == self.dense_size:
            return
        raise PluginError(
            f"collection {self.collection} on the Qdrant server holds {self.dense_size or 'no'}"
            f"-dimension vectors and the embedder gives {size}: set plugins.rag.collection to a "
            "new name and ingest again"
        )

    def _query(
        self, vectors: list[Vector], limit: int, filters: Filters | None, fusion: Fusion
    ) -> list[Hit]:
        flt = _filter(filters)
        queries = [
            (
                name,
                models.SparseVector(indices=v.indices, values=v.values)
                if isinstance(v, SparseVector)
                else v,
            )
            for name, v in vectors
        ]
        if len(queries) == 1:
            [(name, query)] = queries
            result = self.client.query_points(
                self.collection, query=query, using=name, limit=limit, query_filter=flt
            )
        else:
            depth = prefetch_depth(limit)
            result = self.client.query_points(
                self.collection,
                prefetch=[
                    models.Prefetch(query=q, using=name, limit=depth, filter=flt)
                    for name, q in queries
                ],
                query=models.FusionQuery(fusion=_FUSIONS[fusion]),
                limit=limit,
                with_payload=True,
            )
        return [Hit(float(p.score), dict(p.payload or {})) for p in result.points]
