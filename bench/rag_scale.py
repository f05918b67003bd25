"""Knowledge base at scale: ingest N chunks through the plugin (Markdown documents of 100 sections,
extracted, chunked, BM25-weighted, embedded by the offline model, stored in Qdrant Edge), then
run hybrid queries; chunks/s, query p50/p95 and the process's peak memory. The reference in the
same run is the bare engine (qdrant-edge) upserting the same number of points with ready-made
vectors, and querying them dense-only, with no genosd code at all.

Run from the repository root:
    .venv/bin/python -m bench.rag_scale [--chunks 10000 --queries 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import qdrant_edge as qe

from plugins.rag.catalog import Catalog
from plugins.rag.dense import StaticEmbedder
from plugins.rag.index import open_index
from plugins.rag.ingest import KnowledgeBase, Metadata
from plugins.rag.retrieve import search
from plugins.rag.settings import RagSettings

WORDS = [
    "bgp",
    "ospf",
    "neighbor",
    "session",
    "interface",
    "vlan",
    "trunk",
    "access",
    "port",
    "spanning",
    "tree",
    "root",
    "bridge",
    "priority",
    "hsrp",
    "vrrp",
    "gateway",
    "route",
    "prefix",
    "policy",
    "map",
    "community",
    "acl",
    "permit",
    "deny",
    "log",
    "syslog",
    "ntp",
    "server",
    "snmp",
    "trap",
    "poll",
    "counter",
    "error",
    "crc",
    "duplex",
    "speed",
    "optic",
    "power",
    "loss",
    "latency",
    "jitter",
    "qos",
    "queue",
    "shaper",
    "policer",
    "dscp",
    "voice",
    "video",
    "mpls",
    "label",
    "vpn",
    "tunnel",
    "ipsec",
    "firewall",
    "rule",
    "nat",
    "dhcp",
    "dns",
    "resolver",
    "lease",
    "scope",
    "helper",
    "relay",
    "loopback",
    "management",
    "vrf",
    "console",
    "backup",
    "rollback",
    "change",
    "approval",
    "window",
    "maintenance",
    "runbook",
    "design",
    "standard",
    "fabric",
    "leaf",
    "spine",
    "evpn",
    "vxlan",
]


def _document(rng: random.Random, number: int, sections: int) -> str:
    parts = [f"# Document {number}\n"]
    for section in range(sections):
        text = " ".join(rng.choice(WORDS) for _ in range(110))
        parts.append(f"## Section {number}.{section} {rng.choice(WORDS)}\n\n{text}.\n")
    return "\n".join(parts)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _genosd(work: Path, chunks: int, queries: list[str]) -> dict[str, float]:
    rng = random.Random(7)
    kb = KnowledgeBase(
        RagSettings(history=False),
        Catalog(work / "rag.sqlite3"),
        open_index("kb", 256, work),
        StaticEmbedder(),
        str,
    )
    per_doc = 100
    started = time.perf_counter()
    stored = 0
    for number in range(chunks // per_doc):
        text = _document(rng, number, per_doc).encode()
        done = await kb.ingest(f"doc{number}.md", text, f"bench:{number}", Metadata())
        assert done.document is not None, done.error
        stored += done.document.chunks
    ingest = time.perf_counter() - started
    latencies = []
    for query in queries:
        began = time.perf_counter()
        await search(kb, query, "hybrid", 5)
        latencies.append(time.perf_counter() - began)
    kb.index.close()
    return {
        "chunks": stored,
        "chunks_per_s": stored / ingest,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * _percentile(latencies, 0.95),
    }


def _bare(work: Path, chunks: int, queries: int) -> dict[str, float]:
    """The same engine (Qdrant Edge) with ready-made vectors and no genosd code."""
    rng = np.random.default_rng(7)
    config = qe.EdgeConfig(
        vectors={"dense": qe.EdgeVectorParams(size=256, distance=qe.Distance.Cosine)}
    )
    shard = qe.EdgeShard.create(str(work / "bare"), config)
    vectors = rng.standard_normal((chunks, 256)).astype(np.float32)
    started = time.perf_counter()
    for start in range(0, chunks, 64):
        points = [
            qe.Point(i, {"dense": vectors[i].tolist()}, {"n": i})
            for i in range(start, min(chunks, start + 64))
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))
        shard.flush()
    ingest = time.perf_counter() - started
    latencies = []
    for n in range(queries):
        query = qe.Query.Nearest(vectors[n % chunks].tolist(), using="dense")
        began = time.perf_counter()
        shard.query(qe.QueryRequest(limit=5, query=query, with_payload=True))
        latencies.append(time.perf_counter() - began)
    shard.close()
    return {
        "chunks_per_s": chunks / ingest,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * _percentile(latencies, 0.95),
    }


async def main() -> None:
    """Both sides, then the figures and ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(11)
    queries = [" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as work:
        bare = _bare(Path(work), args.chunks, args.queries)
        ours = await _genosd(Path(work), args.chunks, queries)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"chunks: {ours['chunks']:.0f}, queries: {args.queries}, peak RSS {peak:.0f} MiB")
    print(
        f"genosd ingest {ours['chunks_per_s']:.0f} chunks/s (bare engine upsert "
        f"{bare['chunks_per_s']:.0f}/s, x{ours['chunks_per_s'] / bare['chunks_per_s']:.2f})"
    )
    print(
        f"genosd hybrid query p50 {ours['p50_ms']:.1f} ms p95 {ours['p95_ms']:.1f} ms "
        f"(bare dense query p50 {bare['p50_ms']:.1f} p95 {bare['p95_ms']:.1f} ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
