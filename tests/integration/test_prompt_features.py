"""genosd's features read their prompt's active version in the prompt library (the real plugin,
loaded the way the daemon loads it), fall back to the built-in text with the reason when that
version cannot be used, and every library edit lands in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

from genosd.app.core import AppCore, tool_core
from genosd.app.plugins import load_plugins, make_context
from genosd.app.snapshot import Snapshot, Sources, load_snapshot
from genosd.audit import AuditQuery, search
from genosd.config.validate import ValidationReport, llm_review
from genosd.inventory import Device
from plugins.prompt.library import library_for

CONFIG = "hostname r1\nline vty 0 4\n transport input telnet\n"


def _snapshot(tmp_path: Path, llm_url: str, extra: str = "") -> Snapshot:
    inventory = tmp_path / "inventory"
    inventory.mkdir(exist_ok=True)
    (inventory / "hosts.yaml").write_text("r1: {hostname: 127.0.0.1, platform: ios}\n")
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n"
        f"llm: {{url: '{llm_url}'}}\n{extra}"
    )
    return load_snapshot(Sources(config))


async def _review(core: AppCore, device: Device) -> ValidationReport:
    report = ValidationReport(device.name, [], 0, 0)
    masker = core.lifecycle.masker(device)
    return await llm_review(report, core.llm, masker, CONFIG, core.lifecycle.prompts)


async def test_the_review_uses_the_active_version_and_edits_are_audited(tmp_path, fake_ollama):
    fake_ollama.responder = lambda body: json.dumps({"findings": []})
    async with tool_core(_snapshot(tmp_path, fake_ollama.url)) as core:
        host = load_plugins(core)
        device = core.inventory.device("r1")
        first = await _review(core, device)
        assert first.llm == "passed" and first.llm_prompt == "config-review v1"  # the seed

        # the CLI's way in: its own context and store on the same file, the daemon's core reads
        library = library_for(host.records["prompt"].config, make_context(core, "prompt"))
        edited = await library.edit(
            "config-review",
            {"system": "MARKER-42 review this {{ platform }} config; answer JSON findings."},
            "cli:alice",
            "house style",
        )
        assert edited.version == 2
        second = await _review(core, device)
        assert second.llm_prompt == "config-review v2"
        system = fake_ollama.requests[-1][1]["messages"][0]["content"]
        assert system == "MARKER-42 review this ios config; answer JSON findings."

        # a version the feature cannot fill (platform made an int) falls back, with the reason
        await library.edit(
            "config-review",
            {"variables": {"platform": {"type": "int"}, "device": {}, "config": {}}},
            "cli:alice",
        )
        third = await _review(core, device)
        assert third.llm_prompt == "config-review (built-in)"
        assert any("config-review v3 cannot be used" in note for note in third.notes)
        variables = {"platform": "ios", "device": "r1", "config": "1: hostname r1"}
        resolved = await core.lifecycle.prompts.resolve("config-review", variables)
        assert resolved.messages[0]["content"].startswith("You review network device")

        query = AuditQuery(action="prompt.edit")
        entries, _ = await core.db.run(lambda db: search(db, query, limit=10, offset=0))
        found = sorted((e.actor, e.target, e.details["version"]) for e in entries)
        assert found == [("cli:alice", "config-review", 2), ("cli:alice", "config-review", 3)]
        assert "house style" in [e.details["note"] for e in entries]


async def test_without_the_library_the_built_in_prompt_is_used(tmp_path, fake_ollama):
    fake_ollama.responder = lambda body: json.dumps({"findings": []})
    snap = _snapshot(tmp_path, fake_ollama.url, "plugins: {prompt: {enabled: false}}\n")
    async with tool_core(snap) as core:
        assert load_plugins(core).records["prompt"].state == "disabled"
        report = await _review(core, core.inventory.device("r1"))
        assert report.llm == "passed" and report.llm_prompt == "config-review (built-in)"
        assert report.notes == []
