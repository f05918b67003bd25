"""What the knowledge base holds: one row per document (source, title, kind, tags, version,
content hash, chunk count, and for config history the device, commit, date and author), in the
plugin's SQLite file. The hash finds duplicates; the source finds a document's older version."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genosd.plugin import NotFoundError, SqliteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    version TEXT NOT NULL DEFAULT '1',
    sha256 TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    ingested_at REAL NOT NULL,
    embedder TEXT,
    device TEXT,
    git_commit TEXT,
    date REAL,
    author TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_sha ON documents (sha256);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = (
    "id, source, title, kind, tags, version, sha256, chunks, bytes, ingested_at, embedder,"
    " device, git_commit, date, author"
)


class DocumentRecord(BaseModel):
    """One document in the knowledge base."""

    id: str
    source: str
    title: str
    kind: str
    tags: list[str]
    version: str
    sha256: str
    chunks: int
    bytes: int
    ingested_at: float
    embedder: str | None = None
    device: str | None = None
    git_commit: str | None = None
    date: float | None = None
    author: str | None = None


def new_id() -> str:
    """A document id."""
    return uuid.uuid4().hex[:16]


class Catalog(SqliteFile):
    """The documents table; safe to use from worker threads."""

    def __init__(self, path: Path):
        super().__init__(path, SCHEMA)

    def _rows(self, where: str = "", args: tuple[Any, ...] = ()) -> list[DocumentRecord]:
        with self._lock:
            rows = self.db.execute(f"SELECT {_COLUMNS} FROM documents {where}", args).fetchall()
        return [_record(row) for row in rows]

    def by_hash(self, sha256: str) -> DocumentRecord | None:
        """The document with this content, if any."""
        found = self._rows("WHERE sha256 = ?", (sha256,))
        return found[0] if found else None

    def by_source(self, source: str) -> DocumentRecord | None:
        """The document ingested from this source, if any."""
        found = self._rows("WHERE source = ?", (source,))
        return found[0] if found else None

    def get(self, document_id: str) -> DocumentRecord:
        """A document; NotFoundError if there is none."""
        found = self._rows("WHERE id = ?", (document_id,))
        if not found:
            raise NotFoundError(f"no document {document_id!r} in the knowledge base")
        return found[0]

    def list(
        self, tag: str | None = None, kind: str | None = None, limit: int = 1000, offset: int = 0
    ) -> tuple[list[DocumentRecord], int]:
        """Documents (newest first) and how many match."""
        clauses, args = [], []
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        if tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)")
            args.append(tag)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._lock:
            total = int(
                self.db.execute(f"SELECT count(*) FROM documents {where}", args).fetchone()[0]
            )
        rows = self._rows(
            f"{where} ORDER BY ingested_at DESC LIMIT ? OFFSET ?", (*args, limit, offset)
        )
        return rows, total

    def save(self, record: DocumentRecord, replaces: str | None = None) -> None:
        """Record a document (and forget the one it replaces) in one transaction."""
        with self.transaction() as db:
            if replaces is not None:
                db.execute("DELETE FROM documents WHERE id = ?", (replaces,))
            db.execute(
                f"INSERT INTO documents ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                (
                    record.id,
                    record.source,
                    record.title,
                    record.kind,
                    json.dumps(record.tags),
                    record.version,
                    record.sha256,
                    record.chunks,
                    record.bytes,
                    record.ingested_at or time.time(),
                    record.embedder,
                    record.device,
                    record.git_commit,
                    record.date,
                    record.author,
                ),
            )

    def touch(self, document_id: str) -> None:
        """Note that a document's source was read again and had not changed."""
        with self.transaction() as db:
            db.execute(
                "UPDATE documents SET ingested_at = ? WHERE id = ?", (time.time(), document_id)
            )

    def delete(self, document_id: str) -> DocumentRecord:
        """Forget a document; NotFoundError if there is none."""
        record = self.get(document_id)
        with self.transaction() as db:
            db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        return record

    def meta(self, key: str) -> str | None:
        """A bookkeeping value (such as the last config commit ingested)."""
        found = self.rows("SELECT value FROM meta WHERE key = ?", (key,))
        return str(found[0][0]) if found else None

    def set_meta(self, key: str, value: str) -> None:
        """Keep a bookkeeping value."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def count(self) -> tuple[int, int]:
        """(documents, chunks)."""
        with self._lock:
            row = self.db.execute(
                "SELECT count(*), coalesce(sum(chunks), 0) FROM documents"
            ).fetchone()
        return int(row[0]), int(row[1])


def _record(row: tuple[Any, ...]) -> DocumentRecord:
    fields = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    fields["tags"] = json.loads(fields["tags"])
    return DocumentRecord(**fields)
