"""`genosd config history scrub` rewrites a history that holds clear-text secrets, keeps its log,
leaves no old object on disk, and is audited."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

from genosd.config.history import ConfigHistory, history_path
from genosd.config.secrets import Masker, every_platform
from tests.e2e.test_config_cli import _genosd, _setup

CORPUS = Path(__file__).parent.parent / "data" / "secrets"
MARKED = re.compile("«([^»]*)»")


def _on_disk(repository: Path) -> str:
    """Every file of the repository, loose objects inflated: what an attacker with the disk reads."""
    texts = []
    for path in repository.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if "/objects/" in str(path) and path.parent.name != "pack":
            data = zlib.decompress(data)
        texts.append(data.decode("utf-8", "replace"))
    return "\n".join(texts)


def _leftovers(state: Path) -> list[Path]:
    return [p for p in state.iterdir() if p.name.startswith((".configs.scrub", ".configs.retired"))]


async def test_scrub_rewrites_every_version_and_leaves_no_old_object(tmp_path: Path):
    config, env = _setup(tmp_path, {"r1": 22, "r2": 22})
    marked = (CORPUS / "ios.cfg").read_text()
    clear, values = MARKED.sub(r"\1", marked), MARKED.findall(marked)
    # what a version before full masking stored: secrets in clear, over several commits
    history = ConfigHistory(history_path(tmp_path / "state"))
    history.commit("r1", clear, "genosd", lambda _: "r1: first backup")
    history.commit("r2", clear.replace("corpus-ios", "r2"), "alice", lambda _: "r2: first backup")
    history.commit("gone", clear + "! gone\n", "genosd", lambda _: "gone: first backup")
    history.commit("r1", clear + "ntp server 192.0.2.1\n", "bob", lambda _: "r1: +1 -0 lines")
    before = history.versions("r1")
    assert any(v in _on_disk(history.path) for v in values)
    c = ("--config", str(config))

    dry = await _genosd("config", "history", "scrub", "--dry-run", "--json", *c, env=env)
    assert dry.returncode == 0, dry.stderr
    counted = json.loads(dry.stdout)
    assert counted["commits"] == 4 and counted["files"] == 4 and counted["dry_run"] is True
    assert counted["devices"] == ["gone", "r1", "r2"]
    # a device gone from the inventory is masked with every platform's rules (more eager)
    gone = Masker(every_platform()).text(clear).count
    assert gone >= len(values) and counted["secrets"] == 3 * len(values) + gone
    assert any(v in _on_disk(history.path) for v in values)  # a dry run changes nothing

    done = await _genosd("config", "history", "scrub", "--json", *c, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["secrets"] == counted["secrets"]
    disk = _on_disk(history.path)
    assert not [v for v in values if v in disk]
    assert not _leftovers(tmp_path / "state")  # no staging or retired copy left
    # the same log (authors, messages, times), masked texts, and a working tree to match
    after = history.versions("r1")  # an instance opened before the scrub sees the new history
    assert [(v.author, v.message, v.time) for v in after] == [
        (v.author, v.message, v.time) for v in before
    ]
    current = history.current("r1")
    assert current is not None and "ntp server 192.0.2.1" in current and "<secret:" in current
    assert (history.path / "devices" / "r1.cfg").read_text() == current
    assert history.current("gone") is not None and "<secret:" in (history.current("gone") or "")
    # commits keep working after the swap
    assert history.commit("r2", "hostname r2\n", "carol", lambda _: "r2: +1 -99 lines")

    again = await _genosd("config", "history", "scrub", "--json", *c, env=env)
    assert json.loads(again.stdout)["secrets"] == 0
    exported = await _genosd("audit", "export", "--action", "config_history_scrub", *c, env=env)
    entries = json.loads(exported.stdout)
    assert len(entries) == 2 and entries[0]["details"]["secrets"] in (0, counted["secrets"])
    assert {e["details"]["secrets"] for e in entries} == {0, counted["secrets"]}
