"""No secret of the corpus (tests/data/secrets: every platform's secret forms, marked «…») reaches
the knowledge base: not as a config, not pasted into a Markdown note, not in a title, whatever
the document's kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genosd.app.llm import redactor
from genosd.settings import GenosdSettings
from plugins.rag.catalog import Catalog
from plugins.rag.dense import StaticEmbedder
from plugins.rag.index import open_index
from plugins.rag.ingest import KnowledgeBase, Metadata
from plugins.rag.settings import RagSettings

CORPUS = Path(__file__).parent.parent / "data" / "secrets"
MARKED = re.compile("«([^»]*)»")


@pytest.mark.parametrize("name", ["ios.cfg", "eos.cfg", "nxos.cfg", "junos.cfg", "junos-curly.cfg"])
async def test_corpus_secrets_never_reach_the_store(name: str, tmp_path: Path):
    marked = (CORPUS / name).read_text()
    secrets = [s for s in MARKED.findall(marked) if len(s) >= 4]
    clear = MARKED.sub(lambda m: m.group(1), marked)
    settings = GenosdSettings.model_validate({"state_dir": str(tmp_path / "state")})
    kb = KnowledgeBase(
        settings=RagSettings(),
        catalog=Catalog(tmp_path / "rag.sqlite3"),
        index=open_index("kb", 256, tmp_path),
        embedder=StaticEmbedder(),
        redact=redactor(settings),
    )
    first_secret = secrets[0]
    note = f"# Lab notes {first_secret}\n\n## Access\n\nPaste of the running config:\n\n{clear}\n"
    documents = [
        await kb.ingest(name, clear.encode(), f"config:{name}", Metadata(), kind="config"),
        await kb.ingest("notes.md", note.encode(), "upload:notes.md", Metadata()),
        await kb.ingest("notes.txt", clear.encode(), "upload:notes.txt", Metadata()),
    ]
    stored = []
    for done in documents:
        assert done.document is not None, done.error
        stored.append(done.document.title)
        stored += [str(p) for p in kb.index.chunks_of(done.document.id)]
    joined = "\n".join(stored)
    leaked = [s for s in secrets if s in joined]
    assert not leaked, leaked
    assert "<masked>" in joined  # redacted, not dropped: the rest of the line is still there
    kb.index.close()
