"""Rewriting a config history that holds clear-text secrets (versions before full masking).

Every commit is rebuilt, oldest first, with each device file masked again by today's rules;
authors, times and messages are kept, so `git log` reads the same. The new history is written
into a fresh repository beside the old one, which then takes its place and is deleted: no object
of the old history stays on disk (a rewritten git history would keep the old objects until a
prune). Clones and remotes still hold the old history: they must be replaced (force-push).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dulwich import porcelain
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from genosd.config.history import DEVICE_DIR, writing
from genosd.config.secrets import Masker

MaskerFor = Callable[[str], Masker]  # device name -> its masker


@dataclass
class ScrubReport:
    """What a scrub found (and, unless a dry run, rewrote)."""

    commits: int = 0
    files: int = 0  # device file versions that held a secret in clear
    secrets: int = 0
    devices: list[str] = field(default_factory=list)
    dry_run: bool = True
    seconds: float = 0.0


class _Rewriter:
    """Masks device files blob by blob (each distinct blob once) into a target object store."""

    def __init__(self, source: Repo, target: Repo | None, masker_for: MaskerFor):
        self.source, self.target, self.masker_for = source, target, masker_for
        self.blobs: dict[bytes, ObjectID] = {}
        self.trees: dict[bytes, ObjectID] = {}
        self.report = ScrubReport()
        self.devices: set[str] = set()

    def tree(self, sha: ObjectID, prefix: str = "") -> ObjectID:
        if sha in self.trees:
            return self.trees[sha]
        old = self.source[sha]
        assert isinstance(old, Tree)
        new = Tree()
        for entry in old.iteritems():
            name, mode, child = entry.path, entry.mode, entry.sha
            assert name is not None and mode is not None and child is not None
            path = f"{prefix}{name.decode()}"
            if mode & 0o040000:
                new.add(name, mode, self.tree(child, path + "/"))
            else:
                new.add(name, mode, self.blob(child, path))
        self._store(new)
        self.trees[sha] = new.id
        return new.id

    def blob(self, sha: ObjectID, path: str) -> ObjectID:
        if sha in self.blobs:
            return self.blobs[sha]
        old = self.source[sha]
        assert isinstance(old, Blob)
        new = old
        folder, _, name = path.rpartition("/")
        if folder == DEVICE_DIR and name.endswith(".cfg"):
            device = name[: -len(".cfg")]
            masked = self.masker_for(device).text(old.data.decode("utf-8", "replace"))
            if masked.count:
                new = Blob.from_string(masked.text.encode("utf-8"))
                self.report.files += 1
                self.report.secrets += masked.count
                self.devices.add(device)
        self._store(new)
        self.blobs[sha] = new.id
        return new.id

    def commit(self, old: Commit, parent: ObjectID | None) -> ObjectID:
        new = Commit()
        new.tree = self.tree(old.tree)
        new.parents = [parent] if parent is not None else []
        new.author, new.committer = old.author, old.committer
        new.author_time, new.commit_time = old.author_time, old.commit_time
        new.author_timezone, new.commit_timezone = old.author_timezone, old.commit_timezone
        new.encoding, new.message = old.encoding, old.message
        self._store(new)
        return new.id

    def _store(self, item: Blob | Tree | Commit) -> None:
        if self.target is not None:
            self.target.object_store.add_object(item)


def scrub_history(path: Path, masker_for: MaskerFor, *, dry_run: bool = False) -> ScrubReport:
    """Mask every version in the history at `path` again; a dry run only counts."""
    started = time.monotonic()
    with writing(path):
        source = Repo(str(path))
        try:
            head_ref = source.refs.follow(Ref(b"HEAD"))[0][-1]
            try:
                head = source.head()
            except KeyError:
                return ScrubReport(dry_run=dry_run)
            commits = [entry.commit for entry in source.get_walker(include=[head], reverse=True)]
            staging = path.with_name(f".{path.name}.scrub-{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            target = None if dry_run else Repo.init(str(staging), mkdir=True)
            rewriter = _Rewriter(source, target, masker_for)
            parent = None
            for commit in commits:
                parent = rewriter.commit(commit, parent)
        finally:
            source.close()
        report = rewriter.report
        report.commits, report.devices = len(commits), sorted(rewriter.devices)
        report.dry_run = dry_run
        if target is not None and parent is not None:
            target.refs[head_ref] = parent
            target.refs.set_symbolic_ref(Ref(b"HEAD"), head_ref)
            porcelain.reset(target, "hard")  # the working tree: the newest version of each file
            target.close()
            _swap(path, staging)
    report.seconds = time.monotonic() - started
    return report


def _swap(path: Path, staging: Path) -> None:
    """Put the new repository in place of the old, then delete the old one."""
    retired = path.with_name(f".{path.name}.retired-{os.getpid()}")
    os.rename(path, retired)
    os.rename(staging, path)
    shutil.rmtree(retired)
