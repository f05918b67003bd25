"""Both stores behave alike: Qdrant Edge (the default) and a Qdrant server through qdrant-client
(exercised against qdrant-client's own in-process implementation of the server API, as no Qdrant
server can run here): search modes, filters, deletes, counts, dense vectors added later."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from genosd.plugin import PluginError
from plugins.rag.catalog import Catalog
from plugins.rag.dense import StaticEmbedder
from plugins.rag.index import Filters, Index, Point, open_index
from plugins.rag.ingest import KnowledgeBase, Metadata
from plugins.rag.retrieve import search
from plugins.rag.settings import RagSettings
from plugins.rag.sparse import SparseVector
from plugins.rag.store_server import ServerIndex

DOCS = Path(__file__).parent.parent / "data" / "rag" / "docs"


def _store(kind: str, folder: Path, size: int | None) -> Index:
    if kind == "edge":
        return open_index("kb", size, folder)
    index = ServerIndex(QdrantClient(location=":memory:"), "kb", size)
    with warnings.catch_warnings():  # "payload indexes have no effect" in the stand-in only
        warnings.simplefilter("ignore", UserWarning)
        index._ensure()
    return index


@pytest.mark.parametrize("kind", ["edge", "server"])
async def test_search_filters_and_deletes(kind: str, tmp_path: Path):
    kb = KnowledgeBase(
        RagSettings(),
        Catalog(tmp_path / "c.sqlite3"),
        _store(kind, tmp_path, 256),
        StaticEmbedder(),
        str,
    )
    stored = {}
    for name, tags, date in (
        ("runbook-bgp.md", ["routing"], 1_000.0),
        ("runbook-ospf.md", ["routing"], 2_000.0),
        ("policy-security.md", ["security"], 3_000.0),
    ):
        done = await kb.ingest(
            name, (DOCS / name).read_bytes(), name, Metadata(tags=tags, date=date)
        )
        assert done.document is not None
        stored[name] = done.document
    assert kb.index.count() == sum(d.chunks for d in stored.values())
    question = "hold timer expiry makes the session flap"
    for mode in ("hybrid", "sparse", "dense"):
        found = await search(kb, question, mode, 3)
        assert found[0].source == "runbook-bgp.md", (mode, found[0].citation)
    only_security = await search(kb, question, "hybrid", 5, Filters(tags=["security"]))
    assert only_security and {p.source for p in only_security} == {"policy-security.md"}
    later = await search(kb, question, "hybrid", 10, Filters(since=1_500.0))
    assert later and "runbook-bgp.md" not in {p.source for p in later}
    await kb.delete(stored["runbook-bgp.md"].id)
    found = await search(kb, question, "hybrid", 10)
    assert "runbook-bgp.md" not in {p.source for p in found}
    kb.index.close()


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_dense_vectors_join_an_empty_store_only(kind: str, tmp_path: Path):
    index = _store(kind, tmp_path, None)
    index.add_dense(64)
    index.add_dense(32)  # still empty: the size may change
    assert index.dense_size == 32
    index.upsert([Point("doc", 0, SparseVector([1, 2], [1.0, 0.5]), [0.1] * 32, {"doc": "doc"})])
    with pytest.raises(PluginError, match="re-index"):
        index.add_dense(16)
    assert index.search(SparseVector([1], [1.0]), [0.1] * 32, 3)[0].payload == {"doc": "doc"}
    index.close()
