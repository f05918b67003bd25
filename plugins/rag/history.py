"""The config history in the knowledge base: for every commit, each changed device's config as it
now is (replacing the device's previous one: "what is on core-1 now") and what the commit changed,
with its author, date and message ("when and why did the ACL on core-1 change"). Secrets are
already masked in the history, and redacted again on the way in."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import replace

from genosd.plugin import ConfigChange, PluginContext
from plugins.rag.ingest import KnowledgeBase, Metadata

CURSOR = "history_after"


def change_text(change: ConfigChange) -> str:
    """What a change document says: the commit's message and author, then the diff."""
    return f"{change.message}\nauthor: {change.author}\ncommit: {change.commit}\n\n{change.diff}"


async def follow_history(kb: KnowledgeBase, context: PluginContext, batch: int = 50) -> int:
    """Index the commits made since the last look; how many commits were indexed. The cursor
    moves past a commit only once all its devices are stored, so a crash repeats, never skips."""
    after = await asyncio.to_thread(kb.catalog.meta, CURSOR)
    changes = await asyncio.to_thread(context.config_changes, after, batch)
    by_commit: dict[str, list[ConfigChange]] = defaultdict(list)
    for change in changes:
        by_commit[change.commit].append(change)
    for commit, devices in by_commit.items():
        for change in devices:
            meta = Metadata(
                tags=["config"],
                device=change.device,
                git_commit=change.commit,
                date=change.time,
                author=change.author,
            )
            current = await kb.ingest(
                f"{change.device}.cfg",
                change.text.encode(),
                f"config:{change.device}",
                meta,
                kind="config",
            )
            made = await kb.ingest(
                f"{change.device}@{commit[:10]}",
                change_text(change).encode(),
                f"change:{change.device}:{commit}",
                replace(meta, tags=["change"]),
                kind="change",
            )
            for result in (current, made):
                if result.error:
                    context.log.warning("config history %s: %s", commit[:10], result.error)
        await asyncio.to_thread(kb.catalog.set_meta, CURSOR, commit)
    return len(by_commit)
