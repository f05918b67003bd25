"""The config history writes commits as objects: each device's versions, an ordinary git
repository after `checkout()` (clean status, newest files), nothing committed for no change."""

from __future__ import annotations

from pathlib import Path

from dulwich import porcelain
from dulwich.repo import Repo

from genosd.config.history import ConfigHistory


def _status(path: Path) -> tuple[dict, list, list]:
    status = porcelain.status(Repo(str(path)))
    return status.staged, status.unstaged, list(status.untracked)


def test_commits_versions_and_a_clean_checkout(tmp_path: Path):
    history = ConfigHistory(tmp_path / "configs")
    first = history.commit("r1", "hostname r1\n", "alice", lambda old: f"r1 first ({old})")
    history.commit("r2", "hostname r2\n", "bob", lambda old: "r2 first")
    assert history.commit("r1", "hostname r1\n", "alice", lambda old: "no change") is None
    second = history.commit(
        "r1", "hostname r1\nntp server 1.1.1.1\n", "carol", lambda old: str(old)
    )
    assert first is not None and second is not None and first != second
    assert history.current("r1") == "hostname r1\nntp server 1.1.1.1\n"
    assert history.current("r2") == "hostname r2\n"
    assert history.show("r1", first) == "hostname r1\n"
    versions = history.versions("r1")
    assert [v.id for v in versions] == [second, first]
    assert [v.author for v in versions] == ["carol", "alice"]
    assert versions[0].message == "hostname r1"  # describe() got the previous text
    assert versions[1].message == "r1 first (None)"
    assert [v.id for v in history.versions("r2")] != []
    history.checkout()
    staged, unstaged, untracked = _status(tmp_path / "configs")
    assert staged == {"add": [], "delete": [], "modify": []} and unstaged == [] and untracked == []
    on_disk = tmp_path / "configs" / "devices" / "r1.cfg"
    assert on_disk.read_text() == "hostname r1\nntp server 1.1.1.1\n"
    # a later commit, then checkout again: still clean, the file follows
    history.commit("r2", "hostname r2-new\n", "dave", lambda old: "renamed")
    history.checkout()
    assert _status(tmp_path / "configs")[1:] == ([], [])
    assert (tmp_path / "configs" / "devices" / "r2.cfg").read_text() == "hostname r2-new\n"
    # a second instance (another process) sees every commit
    assert ConfigHistory(tmp_path / "configs").current("r2") == "hostname r2-new\n"
