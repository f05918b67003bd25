"""The chunks in Qdrant Edge, Qdrant's embedded engine, under the plugin's data directory: no
server, Qdrant's own sparse and dense search in-process, one process at a time (it locks its
folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from genosd.plugin import PluginError
from plugins.rag.index import (
    KEYWORDS,
    Filters,
    Fusion,
    Hit,
    Index,
    Point,
    StoreBusy,
    Vector,
    point_id,
    prefetch_depth,
    reindex_message,
)
from plugins.rag.sparse import SparseVector


def _filter(filters: Filters | None) -> qe.Filter | None:
    must: list[Any] = []
    for operator, key, value in filters.conditions() if filters else []:
        if operator == "any":
            must.append(qe.FieldCondition(key, match=qe.MatchAny(any=value)))
        elif operator == "eq":
            must.append(qe.FieldCondition(key, match=qe.MatchValue(value)))
        else:
            gte, lt = value
            must.append(qe.FieldCondition(key, range=qe.RangeFloat(gte=gte, lt=lt)))
    return qe.Filter(must=must) if must else None


def _fusion(fusion: Fusion) -> Any:
    return qe.Fusion.Dbsf() if fusion == "dbsf" else qe.Fusion.Rrf(k=60)


class EdgeIndex(Index):
    """One shard in a folder."""

    def __init__(self, shard: qe.EdgeShard, path: Path, dense_size: int | None):
        super().__init__()
        self.shard = shard
        self.path = path
        self.dense_size = dense_size

    @classmethod
    def open(cls, path: Path, dense_size: int | None) -> EdgeIndex:
        """The shard at `path` (created when missing); PluginError when another process has it."""
        try:
            config_file = path / "edge_config.json"
            if config_file.exists():
                shard = qe.EdgeShard.load(str(path))
                return cls(shard, path, _stored_size(config_file))
            config = qe.EdgeConfig(
                vectors=(
                    {"dense": qe.EdgeVectorParams(size=dense_size, distance=qe.Distance.Cosine)}
                    if dense_size
                    else None
                ),
                sparse_vectors={"sparse": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            )
            shard = qe.EdgeShard.create(str(path), config)
        except Exception as exc:  # the engine reports every failure as Exception
            if "WouldBlock" in str(exc):
                raise StoreBusy(
                    f"the knowledge base at {path} is open in another process (the daemon?); "
                    "use the API while it runs, or a Qdrant server (plugins.rag.qdrant_url)"
                ) from None
            raise PluginError(f"the knowledge base at {path} cannot be opened: {exc}") from None
        for key in KEYWORDS:
            shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
        shard.update(qe.UpdateOperation.create_field_index("date", qe.PayloadSchemaType.Float))
        return cls(shard, path, dense_size)

    def close(self) -> None:
        """Flush and release the folder."""
        with self._lock:
            self.shard.flush()
            self.shard.close()

    def add_dense(self, size: int) -> None:
        """Dense vectors of `size` for a shard that holds no chunks yet."""
        if self.dense_size == size:
            return
        if self.dense_size is not None and self.count() > 0:
            raise PluginError(reindex_message(self.dense_size, size))
        with self._lock:
            if self.dense_size is not None:
                self.shard.update(qe.UpdateOperation.delete_vector_name("dense"))
            self.shard.update(
                qe.UpdateOperation.create_dense_vector("dense", size, qe.Distance.Cosine)
            )
        self.dense_size = size

    def flush(self) -> None:
        """Write what was stored to disk."""
        with self._lock:
            self.shard.flush()

    def upsert(self, points: list[Point]) -> None:
        """Store chunks (on disk at the next flush)."""
        records = []
        for p in points:
            vector: dict[str, Any] = {"sparse": qe.SparseVector(p.sparse.indices, p.sparse.values)}
            if p.dense is not None and self.dense_size:
                vector["dense"] = p.dense
            records.append(qe.Point(point_id(p.doc, p.ordinal), vector, p.payload))
        with self._lock:
            self.shard.update(qe.UpdateOperation.upsert_points(records))

    def delete_document(self, doc: str) -> None:
        """Remove every chunk of a document."""
        flt = _filter(Filters(doc=doc))
        assert flt is not None
        with self._lock:
            self.shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
            self.shard.flush()

    def count(self) -> int:
        """How many chunks are stored."""
        with self._lock:
            return int(self.shard.count(qe.CountRequest(exact=True)))

    def chunks_of(self, doc: str) -> list[dict[str, Any]]:
        """A document's chunk payloads, in order."""
        request = qe.ScrollRequest(
            limit=100_000, filter=_filter(Filters(doc=doc)), with_payload=True
        )
        with self._lock:
            records, _ = self.shard.scroll(request)
        payloads = [dict(r.payload or {}) for r in records]
        return sorted(payloads, key=lambda p: int(p.get("ordinal", 0)))

    def reset_dense(self, size: int | None) -> None:
        """Dense vectors of `size` (or none) from now on; every stored one dropped."""
        with self._lock:
            if self.dense_size is not None:
                self.shard.update(qe.UpdateOperation.delete_vector_name("dense"))
            if size:
                self.shard.update(
                    qe.UpdateOperation.create_dense_vector("dense", size, qe.Distance.Cosine)
                )
            self.shard.flush()
        self.dense_size = size

    def _query(
        self, vectors: list[Vector], limit: int, filters: Filters | None, fusion: Fusion
    ) -> list[Hit]:
        flt = _filter(filters)
        queries = [
            qe.Query.Nearest(
                qe.SparseVector(v.indices, v.values) if isinstance(v, SparseVector) else v,
                using=name,
            )
            for name, v in vectors
        ]
        if len(queries) == 1:
            request = qe.QueryRequest(limit=limit, query=queries[0], filter=flt, with_payload=True)
        else:
            depth = prefetch_depth(limit)
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[qe.Prefetch(limit=depth, query=q, filter=flt) for q in queries],
                query=_fusion(fusion),
                filter=flt,
                with_payload=True,
            )
        return [Hit(float(p.score), dict(p.payload or {})) for p in self.shard.query(request)]


def _stored_size(config_file: Path) -> int | None:
    """The dense vectors' size an existing shard was made with (None when it has none)."""
    vectors = json.loads(config_file.read_text()).get("vectors") or {}
    dense = vectors.get("dense") if isinstance(vectors, dict) else None
    return int(dense["size"]) if isinstance(dense, dict) and "size" in dense else None
