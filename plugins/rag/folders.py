"""Document folders: the only places the API may ingest from, and, when watched, kept in sync
(new and changed files queued for ingest, removed files' documents queued for delete)."""

from __future__ import annotations

from pathlib import Path

from genosd.plugin import InvalidRequestError
from plugins.rag.catalog import Catalog
from plugins.rag.ingest import files_under
from plugins.rag.jobs import JobQueue, JobRecord
from plugins.rag.settings import Folder

ACTOR = "rag:watch"


def allowed(path: Path, folders: list[Folder]) -> Path:
    """`path` resolved, when it lies in a configured folder; InvalidRequestError otherwise."""
    resolved = path.resolve()
    for folder in folders:
        if resolved.is_relative_to(folder.path.resolve()):
            return resolved
    roots = ", ".join(str(f.path) for f in folders) or "none configured (plugins.rag.folders)"
    raise InvalidRequestError(f"{path} is not in a document folder ({roots})")


def expand(paths: list[Path]) -> list[str]:
    """Every document file at these paths (folders walked), resolved, without repeats."""
    found: dict[str, None] = {}
    for path in paths:
        for file in files_under(path) if path.exists() else [path]:
            found[str(file.resolve())] = None
    return list(found)


def scan(folder: Folder, catalog: Catalog, queue: JobQueue) -> list[JobRecord]:
    """Queue what changed in a watched folder since its files were ingested; the jobs queued."""
    root = folder.path.resolve()
    if not root.is_dir():
        return []
    busy = {
        item
        for job in queue.recent(200)
        if job.state in ("queued", "running")
        for item in job.items
    }
    stored = {
        d.source: d for d in catalog.list(limit=1_000_000)[0] if d.source.startswith(f"{root}/")
    }
    changed = []
    present = set()
    for file in files_under(root):
        source = str(file.resolve())
        present.add(source)
        document = stored.get(source)
        if source not in busy and (document is None or file.stat().st_mtime > document.ingested_at):
            changed.append(source)
    gone = [d.id for source, d in stored.items() if source not in present and d.id not in busy]
    jobs = []
    if changed:
        jobs.append(queue.queue("ingest", changed, {"tags": folder.tags}, ACTOR))
    if gone:
        jobs.append(queue.queue("delete", gone, {}, ACTOR))
    return jobs
