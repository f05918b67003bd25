"""Config history in a git repository (dulwich): one file per device, one commit per change.

The repository lives at `<state_dir>/configs` and is an ordinary git repository: `git log -p
configs/r1.cfg` works on it, and it can be pushed to a remote. Commits are only made when a
device's stored text changed, so history is a list of real changes.
"""

from __future__ import annotations

import difflib
import fcntl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.gc import maybe_auto_gc
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

from genosd.config.secrets import diff_changed_secrets
from genosd.errors import NotFoundError

DEVICE_DIR = "devices"


def history_path(state_dir: Path) -> Path:
    """Where the config repository lives."""
    return state_dir / "configs"


@dataclass(frozen=True)
class Version:
    """One stored version of a device's config."""

    id: str
    time: float
    author: str
    message: str


@dataclass(frozen=True)
class HistoryChange:
    """One device's config as one commit left it, and what that commit changed in it."""

    commit: str
    time: float
    author: str
    message: str
    device: str
    text: str
    diff: str


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Hold the history's write lock (a file lock beside it): one writer across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ConfigHistory:
    """The git repository of device configs; safe to use from several threads and processes."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        self._opened = self._open()
        self._stale = True  # the index and files may lag behind the newest commit

    def _open(self) -> tuple[Repo, int]:
        try:
            repo = Repo(str(self.path))
        except NotGitRepository:
            repo = Repo.init(str(self.path))
        return repo, self.path.stat().st_ino

    @property
    def repo(self) -> Repo:
        """The repository, opened again if it was replaced (`config history scrub`)."""
        repo, inode = self._opened
        try:
            current = self.path.stat().st_ino
        except FileNotFoundError:
            return repo  # in the middle of a swap: the old one still answers
        if current != inode:
            repo.close()
            self._opened = repo, inode = self._open()
        return repo

    @staticmethod
    def file_of(device: str) -> str:
        """The repository path of a device's config."""
        return f"{DEVICE_DIR}/{device}.cfg"

    def current(self, device: str) -> str | None:
        """The newest stored config of `device`, if any."""
        head = self._head()
        return None if head is None else self._read(head, self.file_of(device))

    def commit(
        self, device: str, text: str, author: str, describe: Callable[[str | None], str]
    ) -> str | None:
        """Store `text` for `device`; the new commit id, or None when nothing changed.

        `describe(previous text)` makes the commit message. The commit is written as objects
        (blob, two trees, commit) rather than through git's index, whose reading and writing
        grows with the number of devices: `checkout()` brings index and files up to date.
        """
        with self._lock, writing(self.path):
            head = self._head()
            previous = None if head is None else self._read(head, self.file_of(device))
            if previous == text:
                return None
            repo = self.repo
            blob = Blob.from_string(text.encode("utf-8"))
            folder = self._updated(head, DEVICE_DIR.encode(), f"{device}.cfg".encode(), blob.id)
            root = self._updated(head, None, DEVICE_DIR.encode(), folder.id, mode=0o040000)
            commit = Commit()
            commit.tree = root.id
            commit.parents = [] if head is None else [head.id]
            commit.author = commit.committer = f"{author} <genosd@localhost>".encode()
            commit.author_time = commit.commit_time = int(time.time())
            commit.author_timezone = commit.commit_timezone = 0
            commit.encoding = b"UTF-8"
            commit.message = describe(previous).encode()
            for git_object in (blob, folder, root, commit):  # loose: a pack each would pile up
                repo.object_store.add_object(git_object)
            repo.refs.set_if_equals(Ref(b"HEAD"), None if head is None else head.id, commit.id)
            self._stale = True
            return commit.id.decode()

    def _updated(
        self,
        head: Commit | None,
        folder: bytes | None,
        name: bytes,
        sha: ObjectID,
        mode: int = 0o100644,
    ) -> Tree:
        """A copy of the head's root tree (or of its `folder`) with `name` set to `sha`."""
        tree = Tree()
        if head is not None:
            repo = self.repo
            old = repo[head.tree]
            if folder is not None and isinstance(old, Tree):
                try:
                    _, folder_sha = old[folder]
                    old = repo[folder_sha]
                except KeyError:
                    old = Tree()
            if isinstance(old, Tree):
                for entry in old.iteritems():
                    tree.add(entry.path, entry.mode, entry.sha)
        tree.add(name, mode, sha)
        return tree

    def checkout(self) -> None:
        """Bring the index and the files of the working tree up to the newest commit (after a
        run of commits), so `git status` in the repository is clean; packs loose objects when
        git would."""
        with self._lock, writing(self.path):
            if not self._stale or self._head() is None:
                return
            repo = self.repo
            repo.get_worktree().reset_index()
            maybe_auto_gc(repo)
            self._stale = False

    def versions(self, device: str, limit: int = 100) -> list[Version]:
        """Versions of a device's config, newest first."""
        if self._head() is None:
            return []
        walker = self.repo.get_walker(paths=[self.file_of(device).encode()], max_entries=limit)
        return [self._version(entry.commit) for entry in walker]

    def show(self, device: str, version: str) -> str:
        """The config of `device` at `version` (a commit id or unique prefix)."""
        commit = self._commit(version)
        text = self._read(commit, self.file_of(device))
        if text is None:
            raise NotFoundError(f"{device} has no config in version {version}")
        return text

    def diff(self, device: str, old: str, new: str | None = None) -> str:
        """Unified diff of a device's config between two versions (`new` defaults to the newest)."""
        before = self.show(device, old)
        after = self.show(device, new) if new else self.current(device) or ""
        return "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"{device}@{old[:10]}",
                tofile=f"{device}@{(new or 'latest')[:10]}",
            )
        )

    def changes_since(self, after: str | None, limit: int = 100) -> list[HistoryChange]:
        """Device configs changed by the commits after `after` (all when None, or when `after`
        is no longer in the history), oldest first, at most `limit` commits."""
        head = self._head()
        if head is None:
            return []
        repo = self.repo
        known = after is not None and ObjectID(after.encode()) in repo.object_store
        exclude = [ObjectID(after.encode())] if known and after else []
        walker = repo.get_walker(include=[head.id], exclude=exclude, reverse=True)
        found: list[HistoryChange] = []
        for number, entry in enumerate(walker):
            if number >= limit:
                break
            version = self._version(entry.commit)
            for change in entry.changes():
                if isinstance(change, list) or change.new is None or change.new.path is None:
                    continue  # a merge (genosd makes none) or a removed file
                path = change.new.path.decode()
                if not (path.startswith(f"{DEVICE_DIR}/") and path.endswith(".cfg")):
                    continue
                new = self._blob_text(change.new.sha)
                old = self._blob_text(change.old.sha) if change.old and change.old.sha else ""
                device = path[len(DEVICE_DIR) + 1 : -len(".cfg")]
                diff = "".join(
                    difflib.unified_diff(
                        old.splitlines(keepends=True),
                        new.splitlines(keepends=True),
                        fromfile=f"{device} before",
                        tofile=f"{device}@{version.id[:10]}",
                    )
                )
                found.append(
                    HistoryChange(
                        version.id, version.time, version.author, version.message, device, new, diff
                    )
                )
        return found

    def _blob_text(self, sha: bytes | None) -> str:
        blob = self.repo[sha] if sha else None
        return blob.data.decode("utf-8") if isinstance(blob, Blob) else ""

    def _head(self) -> Commit | None:
        try:
            repo = self.repo
            commit = repo[repo.head()]
        except KeyError:
            return None
        return commit if isinstance(commit, Commit) else None

    def _commit(self, version: str) -> Commit:
        if len(version) == 40:
            try:
                full = self.repo[version.encode()]
            except KeyError:
                raise NotFoundError(f"no version {version}") from None
            if isinstance(full, Commit):
                return full
        if len(version) < 7 or not all(c in "0123456789abcdef" for c in version):
            raise NotFoundError(f"no version {version!r} (give at least 7 hex digits)")
        repo = self.repo  # one check that the repository was not replaced, not one per object
        matches = [sha for sha in repo.object_store if sha.decode().startswith(version)]
        commits = [repo[s] for s in matches if isinstance(repo[s], Commit)]
        if len(commits) != 1:
            raise NotFoundError(f"no single version matches {version!r}")
        commit = commits[0]
        assert isinstance(commit, Commit)
        return commit

    def _read(self, commit: Commit, path: str) -> str | None:
        repo = self.repo
        tree = repo[commit.tree]
        assert isinstance(tree, Tree)
        try:
            _, sha = tree.lookup_path(repo.object_store.__getitem__, path.encode())
        except KeyError:
            return None
        blob = repo[sha]
        return blob.data.decode("utf-8") if isinstance(blob, Blob) else None

    @staticmethod
    def _version(commit: Commit) -> Version:
        return Version(
            id=commit.id.decode(),
            time=float(commit.commit_time),
            author=commit.author.decode().split(" <")[0],
            message=commit.message.decode().strip(),
        )


def change_message(device: str, old: str | None, new: str, masked: int) -> str:
    """A commit message a reviewer can scan: what changed, in numbers."""
    if old is None:
        return f"{device}: first backup ({len(new.splitlines())} lines, {masked} secrets masked)"
    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
    removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
    rotated = diff_changed_secrets(diff)
    secrets = (
        f", {len(rotated)} secret{'s' if len(rotated) != 1 else ''} changed" if rotated else ""
    )
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return f"{device}: +{added} -{removed} lines{secrets} ({stamp})"
