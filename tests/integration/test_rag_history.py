"""The config history in the knowledge base, through the plugin context a daemon lends: each
commit's configs and changes indexed once, in order, secrets redacted, and "when and why did X
change" answered from the device's changes with commit citations."""

from __future__ import annotations

import json
import time
from pathlib import Path

from genosd.app.core import tool_core
from genosd.app.plugins import load_plugins, make_context
from genosd.app.snapshot import Sources, load_snapshot
from plugins.rag import knowledge_base
from plugins.rag.catalog import Catalog
from plugins.rag.history import follow_history
from plugins.rag.index import Filters
from plugins.rag.retrieve import answer, named_devices, search
from plugins.rag.settings import RagSettings

FIRST = """hostname core-1
!
ip access-list extended MGMT
 permit tcp 10.250.0.0 0.0.0.255 any eq 22
!
snmp-server community Sup3rS3cret RO
"""
SECOND = FIRST.replace("10.250.0.0 0.0.0.255", "10.250.0.0 0.0.1.255")


def _setup(tmp_path: Path, llm_url: str) -> Path:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    hosts = "core-1: {hostname: 127.0.0.1, platform: ios}\ncore-10: {hostname: 127.0.0.2, platform: ios}\n"
    (inventory / "hosts.yaml").write_text(hosts)
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n"
        f"llm: {{url: '{llm_url}', models: {{chat: [qwen2.5-coder:7b]}}}}\n"
    )
    return config


async def test_a_finished_backup_is_indexed_at_once(tmp_path: Path, fake_ollama):
    async with tool_core(load_snapshot(Sources(_setup(tmp_path, fake_ollama.url)))) as core:
        core.history.commit("core-1", FIRST, "alice", lambda old: "first")
        [sink] = load_plugins(core).records["rag"].contributions.sinks
        assert sink.on_event is not None and sink.topics == ("run",)
        catalog = Catalog(tmp_path / "state" / "plugins" / "rag" / "rag.sqlite3")
        await sink.on_event("run", {"kind": "config_backup", "status": "started"})
        assert catalog.count() == (0, 0)
        await sink.on_event("run", {"kind": "config_backup", "status": "finished"})
        assert catalog.count()[0] == 2  # core-1's config and its first change


async def test_history_is_indexed_once_and_answers_when_and_why(tmp_path: Path, fake_ollama):
    config = _setup(tmp_path, fake_ollama.url)
    async with tool_core(load_snapshot(Sources(config))) as core:
        first = core.history.commit("core-1", FIRST, "alice", lambda old: "core-1: first backup")
        core.history.commit("core-10", "hostname core-10\n", "alice", lambda old: "first")
        second = core.history.commit("core-1", SECOND, "bob", lambda old: "CHG-42 widen MGMT")
        assert first and second
        context = make_context(core, "rag")
        kb = knowledge_base(RagSettings(), context)
        assert await follow_history(kb, context) == 3
        assert await follow_history(kb, context) == 0  # the cursor moved past them

        listed, total = kb.catalog.list(limit=10)
        assert total == 5  # two current configs, three changes
        sources = sorted(d.source for d in listed)
        assert sources == sorted(
            [
                "config:core-1",
                "config:core-10",
                f"change:core-1:{first}",
                f"change:core-1:{second}",
                "change:core-10:" + next(d.git_commit for d in listed if d.device == "core-10"),
            ]
        )
        current = next(d for d in listed if d.source == "config:core-1")
        assert (current.git_commit, current.author, current.version) == (second, "bob", "2")

        now = await search(kb, "MGMT access-list permit", limit=3, filters=Filters(kind="config"))
        assert now[0].device == "core-1" and "0.0.1.255" in now[0].text
        assert "Sup3rS3cret" not in " ".join(p.text for p in now)  # redacted on the way in

        assert named_devices("why did CORE-1 change, not core-10?", ["core-1", "core-10"]) == [
            "core-10",
            "core-1",
        ]
        fake_ollama.responder = lambda body: json.dumps(
            {"answer": "Bob widened MGMT to 10.250.0.0/23 (CHG-42).", "citations": [1]}
        )
        done = await answer(kb, context, "when and why did the MGMT ACL on core-1 change?")
        top = done.passages[0]
        assert (top.kind, top.device, top.commit) == ("change", "core-1", second)
        assert top.citation.startswith(f"core-1 @ {second[:10]} (")
        assert ", lines " in top.citation
        day = time.strftime("%Y-%m-%d", time.gmtime())
        assert day in top.citation
        assert done.answer == "Bob widened MGMT to 10.250.0.0/23 (CHG-42)." and done.citations == [
            1
        ]
        sent = fake_ollama.requests[-1][1]["messages"][-1]["content"]
        assert "CHG-42 widen MGMT" in sent and "author: bob" in sent
        kb.index.close()
