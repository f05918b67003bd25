"""Long knowledge-base work as jobs: bulk ingest, delete and re-index, stored in the plugin's SQLite file so
that the API, the CLI and watched folders queue them the same way, whoever runs them. A job's
items are fixed when it is queued; it records its progress after every item, so a job cut off by
a restart resumes at the next item (its owner process gone), a cancel stops it between two items,
and a bad file is that item's error, never the job's."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from genosd.plugin import ConflictError, GenosdError, NotFoundError, SqliteFile, pid_alive
from plugins.rag.ingest import Ingested, KnowledgeBase, Metadata

JobKind = Literal["ingest", "delete", "reindex"]
JobState = Literal["queued", "running", "done", "cancelled"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    args TEXT NOT NULL,
    items TEXT NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errors TEXT NOT NULL DEFAULT '[]',
    owner INTEGER,
    cancel INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
"""
_COLUMNS = (
    "id, kind, state, actor, args, items, cursor, added, updated, duplicates, failed, errors,"
    " owner, cancel, created_at, started_at, finished_at"
)
MAX_ERRORS = 200
log = logging.getLogger(__name__)


class JobRecord(BaseModel):
    """A job and how far it got."""

    id: str
    kind: JobKind
    state: JobState
    actor: str
    args: dict[str, Any]
    items: list[str]
    cursor: int
    added: int
    updated: int
    duplicates: int
    failed: int
    errors: list[str]
    owner: int | None
    cancel: bool
    created_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def total(self) -> int:
        """How many items the job has."""
        return len(self.items)

    def progress(self) -> dict[str, Any]:
        """What a `rag.job` event says."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "done": self.cursor,
            "total": self.total,
            "added": self.added,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "failed": self.failed,
        }


class JobQueue(SqliteFile):
    """The jobs table; safe to use from worker threads and from several processes."""

    def __init__(self, path: Path):
        super().__init__(path, SCHEMA)

    def _get(self, where: str, args: tuple[Any, ...]) -> list[JobRecord]:
        rows = self.rows(f"SELECT {_COLUMNS} FROM jobs {where}", args)
        out = []
        for row in rows:
            fields = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
            for key in ("args", "items", "errors"):
                fields[key] = json.loads(fields[key])
            fields["cancel"] = bool(fields["cancel"])
            out.append(JobRecord(**fields))
        return out

    def get(self, job_id: str) -> JobRecord:
        """A job; NotFoundError if there is none."""
        found = self._get("WHERE id = ?", (job_id,))
        if not found:
            raise NotFoundError(f"no knowledge base job {job_id!r}")
        return found[0]

    def recent(self, limit: int = 50) -> list[JobRecord]:
        """The newest jobs first."""
        return self._get("ORDER BY created_at DESC LIMIT ?", (limit,))

    def queue(self, kind: JobKind, items: list[str], args: dict[str, Any], actor: str) -> JobRecord:
        """A new job, queued."""
        job_id = uuid.uuid4().hex[:12]
        with self.transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, state, actor, args, items, created_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, kind, actor, json.dumps(args), json.dumps(items), time.time()),
            )
        return self.get(job_id)

    def claim(self, job_id: str | None = None) -> JobRecord | None:
        """Take a queued job (`job_id`, or the oldest) for this process; None if there is none.
        A running job whose process is gone is queued again first (it resumes at its cursor)."""
        for orphan in self._get("WHERE state = 'running'", ()):
            if not pid_alive(orphan.owner):
                with self.transaction() as db:
                    db.execute(
                        "UPDATE jobs SET state = 'queued', owner = NULL WHERE id = ? AND owner = ?",
                        (orphan.id, orphan.owner),
                    )
        with self.transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs WHERE state = 'queued'"
                + (" AND id = ?" if job_id else "")
                + " ORDER BY created_at LIMIT 1",
                (job_id,) if job_id else (),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', owner = ?,"
                " started_at = coalesce(started_at, ?) WHERE id = ?",
                (os.getpid(), time.time(), row[0]),
            )
        return self.get(row[0])

    def advance(self, job: JobRecord, outcome: Ingested | None, error: str | None) -> JobRecord:
        """Record one item's outcome and move past it."""
        counts = {"added": 0, "updated": 0, "duplicates": 0, "failed": 0}
        if error is not None:
            counts["failed"] = 1
        elif outcome is not None and outcome.outcome is not None:
            key = "duplicates" if outcome.outcome == "duplicate" else outcome.outcome
            counts[key] = 1
        errors = ([*job.errors, error])[-MAX_ERRORS:] if error else job.errors
        with self.transaction() as db:
            db.execute(
                "UPDATE jobs SET cursor = cursor + 1, added = added + ?, updated = updated + ?,"
                " duplicates = duplicates + ?, failed = failed + ?, errors = ? WHERE id = ?",
                (*counts.values(), json.dumps(errors), job.id),
            )
        return self.get(job.id)

    def finish(self, job_id: str, state: JobState) -> JobRecord:
        """Mark a job done or cancelled."""
        with self.transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, owner = NULL WHERE id = ?",
                (state, time.time(), job_id),
            )
        return self.get(job_id)

    def request_cancel(self, job_id: str) -> JobRecord:
        """Ask a job to stop (a queued one stops at once); ConflictError when it has ended."""
        job = self.get(job_id)
        if job.state in ("done", "cancelled"):
            raise ConflictError(f"job {job_id} has already ended ({job.state})")
        with self.transaction() as db:
            db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
            db.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'",
                (time.time(), job_id),
            )
        return self.get(job_id)

    def pending(self) -> bool:
        """Whether a job waits to run."""
        return bool(self.rows("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1"))


Progress = Callable[[JobRecord], None]


async def run_job(
    kb: KnowledgeBase, queue: JobQueue, job: JobRecord, progress: Progress | None = None
) -> JobRecord:
    """Work through a claimed job from its cursor; its record as it ended."""
    tags, version = list(job.args.get("tags", [])), job.args.get("version")
    if job.kind == "reindex":
        wanted = await kb.wanted_dense_size()
        if wanted != kb.index.dense_size:  # another embedder: its vectors replace all others
            await asyncio.to_thread(kb.index.reset_dense, wanted)
    while job.cursor < job.total:
        if (await asyncio.to_thread(queue.get, job.id)).cancel:
            job = await asyncio.to_thread(queue.finish, job.id, "cancelled")
            break
        item = job.items[job.cursor]
        outcome: Ingested | None = None
        error: str | None = None
        try:
            if job.kind == "ingest":
                outcome = await _ingest_file(kb, Path(item), Metadata(tags=tags, version=version))
                error = outcome.error
            else:
                await (kb.delete(item) if job.kind == "delete" else kb.reindex(item))
        except GenosdError as exc:
            error = f"{item}: {exc}"
        except Exception as exc:  # the store or a library failing on one item: that item's error
            log.exception("knowledge base job %s: %s", job.id, item)
            error = f"{item}: {type(exc).__name__}: {exc}"
        job = await asyncio.to_thread(queue.advance, job, outcome, error)
        if progress is not None:
            progress(job)
    else:
        job = await asyncio.to_thread(queue.finish, job.id, "done")
    if progress is not None:
        progress(job)
    return job


async def _ingest_file(kb: KnowledgeBase, path: Path, meta: Metadata) -> Ingested:
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return Ingested(str(path), error=f"{path}: {exc.strerror or exc}")
    return await kb.ingest(path.name, data, str(path), meta)


async def run_queued(
    kb: KnowledgeBase, queue: JobQueue, progress: Progress | None = None
) -> list[JobRecord]:
    """Run every queued job, oldest first (the daemon's loop)."""
    ran = []
    while (job := await asyncio.to_thread(queue.claim)) is not None:
        ran.append(await run_job(kb, queue, job, progress))
    return ran
