"""Knowledge-base jobs: per-file errors, progress, cancel between files, resume after the owner
process died, watched folders kept in sync; and the API queueing from document folders only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from genosd.llm import LlmLayer
from genosd.plugin import Embedding
from genosd.settings_sections import LlmSettings
from plugins.rag.dense import ServerEmbedder
from plugins.rag.folders import allowed, expand, scan
from plugins.rag.ingest import KnowledgeBase, Metadata
from plugins.rag.jobs import JobQueue, JobRecord, run_job, run_queued
from plugins.rag.retrieve import search
from plugins.rag.settings import Folder
from tests.rag_files import offline_kb

DOCS = Path(__file__).parent.parent / "data" / "rag" / "docs"


def _kb(tmp_path: Path) -> tuple[KnowledgeBase, JobQueue]:
    return offline_kb(tmp_path), JobQueue(tmp_path / "rag.sqlite3")


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


async def test_per_file_errors_cancel_and_resume(tmp_path: Path):
    kb, queue = _kb(tmp_path)
    files = [str(DOCS / n) for n in ("runbook-bgp.md", "runbook-ospf.md")]
    job = queue.queue("ingest", [*files, str(tmp_path / "missing.md")], {"tags": ["kb"]}, "cli:al")
    seen: list[int] = []
    done = await run_job(kb, queue, queue.claim(job.id) or job, lambda j: seen.append(j.cursor))
    assert (done.state, done.added, done.failed, done.cursor) == ("done", 2, 1, 3)
    assert "missing.md" in done.errors[0] and seen[:3] == [1, 2, 3]
    assert {d.tags[0] for d in kb.catalog.list()[0]} == {"kb"}

    # cancelled between two files: the first is stored, the rest is not touched
    names = ("guide-firewall.md", "guide-ntp-logging.md", "runbook-change.md")
    job = queue.queue("ingest", [str(DOCS / n) for n in names], {}, "cli:al")

    def cancel_after_first(current: JobRecord) -> None:
        if current.cursor == 1 and current.state == "running":
            queue.request_cancel(current.id)

    stopped = await run_job(kb, queue, queue.claim(job.id) or job, cancel_after_first)
    assert (stopped.state, stopped.cursor, stopped.added) == ("cancelled", 1, 1)

    # a job whose process died resumes at its cursor
    names = ("standard-monitoring.md", "wan-qos.html", "faq-wireless.txt")
    job = queue.queue("ingest", [str(DOCS / n) for n in names], {}, "cli:al")
    with queue.transaction() as db:
        db.execute(
            "UPDATE jobs SET state = 'running', owner = ?, cursor = 1 WHERE id = ?",
            (_dead_pid(), job.id),
        )
    [resumed] = await run_queued(kb, queue)
    assert (resumed.id, resumed.state, resumed.cursor, resumed.added) == (job.id, "done", 3, 2)
    titles = {d.title for d in kb.catalog.list()[0]}
    assert "Monitoring standard" not in titles and "WAN and QoS design" in titles  # item 0 skipped
    assert queue.claim() is None
    kb.index.close()


async def test_watched_folders_follow_their_files(tmp_path: Path):
    kb, queue = _kb(tmp_path / "kb")
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("runbook-bgp.md", "netcheck.1"):
        (folder / name).write_bytes((DOCS / name).read_bytes())
    watched = Folder(path=folder, tags=["runbooks"])
    [first] = scan(watched, kb.catalog, queue)
    assert first.kind == "ingest" and len(first.items) == 2
    assert scan(watched, kb.catalog, queue) == []  # already queued: not twice
    await run_queued(kb, queue)
    assert sorted(d.tags[0] for d in kb.catalog.list()[0]) == ["runbooks", "runbooks"]
    assert scan(watched, kb.catalog, queue) == []  # nothing changed
    time.sleep(0.01)
    os.utime(folder / "netcheck.1")  # saved again, same content: looked at once, then left
    [touched] = scan(watched, kb.catalog, queue)
    [ran] = await run_queued(kb, queue)
    assert (touched.id, ran.duplicates) == (ran.id, 1)
    assert scan(watched, kb.catalog, queue) == []

    time.sleep(0.01)
    (folder / "runbook-bgp.md").write_text((DOCS / "runbook-bgp.md").read_text() + "\nNew note.\n")
    (folder / "netcheck.1").unlink()
    queued = scan(watched, kb.catalog, queue)
    assert sorted(j.kind for j in queued) == ["delete", "ingest"]
    await run_queued(kb, queue)
    [document] = kb.catalog.list()[0]
    assert document.title == "BGP troubleshooting runbook" and document.version == "2"

    assert allowed(folder / "x.md", [watched]) == (folder / "x.md").resolve()
    outside = tmp_path / "kb" / "rag.sqlite3"
    for path in (outside, folder / ".." / "kb" / "rag.sqlite3"):
        try:
            allowed(path, [watched])
        except Exception as exc:
            assert "is not in a document folder" in str(exc)
        else:
            raise AssertionError(f"{path} was allowed")
    assert expand([folder, folder / "runbook-bgp.md"]) == [
        str((folder / "runbook-bgp.md").resolve())
    ]
    kb.index.close()


async def test_reindex_moves_every_document_to_another_embedder(tmp_path: Path, fake_ollama):
    kb, queue = _kb(tmp_path)
    for name in ("runbook-bgp.md", "guide-ntp-logging.md"):
        await kb.ingest(name, (DOCS / name).read_bytes(), name, Metadata(tags=["x"]))
    assert kb.index.dense_size == 256
    layer = LlmLayer(LlmSettings(url=fake_ollama.url), str)

    async def embed(texts: list[str], model: str | None = None) -> Embedding:
        done = await layer.embed(texts, model)
        return Embedding(done.vectors, done.provider, done.model)

    moved = KnowledgeBase(kb.settings, kb.catalog, kb.index, ServerEmbedder(embed, None), str)
    assert (await search(moved, "hold timer expiry", "dense", 3)) == []  # sizes differ: no dense
    ids = [d.id for d in kb.catalog.list()[0]]
    job = queue.queue("reindex", [*ids, "gone"], {}, "cli:al")
    done = await run_job(moved, queue, queue.claim(job.id) or job)
    assert (done.state, done.cursor, done.failed) == ("done", 3, 1) and "gone" in done.errors[0]
    assert moved.index.dense_size == 64  # the fake server's vectors
    assert {d.embedder for d in kb.catalog.list()[0]} == {"llm:nomic-embed-text:latest"}
    found = await search(moved, "hold timer expiry", "dense", 3)
    assert found and all(p.text for p in found)
    sparse = await search(moved, "hold timer expiry", "sparse", 1)
    assert sparse[0].heading == ["Flapping sessions"]  # sparse vectors and payloads kept
    await layer.close()
    kb.index.close()
