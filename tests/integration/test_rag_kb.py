"""The knowledge base on local Qdrant: retrieval quality on the labelled set (tests/data/rag), and
`genosd rag …` from the command line, bad files and a locked store included."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from genosd.cli import app
from genosd.errors import GenosdError
from plugins.rag.index import open_index
from plugins.rag.ingest import Metadata, files_under
from plugins.rag.retrieve import search
from tests.rag_files import offline_kb

DATA = Path(__file__).parent.parent / "data" / "rag"


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


async def test_the_labelled_set_is_found(tmp_path: Path):
    kb = offline_kb(tmp_path)
    for file in files_under(DATA / "docs"):
        done = await kb.ingest(file.name, file.read_bytes(), str(file), Metadata(tags=["docs"]))
        assert done.outcome == "added", done.error
    questions = yaml.safe_load((DATA / "questions.yaml").read_text())
    found: dict[str, list[int | None]] = {"hybrid": [], "sparse": []}
    for question in questions:
        for mode in found:
            passages = await search(kb, question["q"], mode, 5)  # type: ignore[arg-type]
            rank = next(
                (
                    p.rank
                    for p in passages
                    if p.source.endswith(question["doc"])
                    and _norm(question["has"]) in _norm(p.text)
                ),
                None,
            )
            found[mode].append(rank)
    recall = {mode: sum(r is not None for r in ranks) / len(ranks) for mode, ranks in found.items()}
    assert len(questions) >= 50 and recall["hybrid"] >= 0.9, recall
    paraphrased = [n for n, q in enumerate(questions) if q.get("paraphrase")]
    para = {m: sum(found[m][n] is not None for n in paraphrased) / len(paraphrased) for m in found}
    assert len(paraphrased) >= 20 and para["hybrid"] >= para["sparse"] + 0.1, para
    kb.index.close()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, GenosdError):
        return 1, result.stdout, f"{result.stderr}error: {result.exception}"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


async def test_the_rag_commands(tmp_path: Path):
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    c = ("--config", str(config))
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("runbook-bgp.md", "netcheck.1", "wan-qos.html"):
        (docs / name).write_bytes((DATA / "docs" / name).read_bytes())
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")

    code, out, err = await asyncio.to_thread(_invoke, "rag", "ingest", str(docs), "-t", "ops", *c)
    assert code == 1 and "broken.pdf: not a readable PDF" in err
    assert "done: 3 added, 0 updated, 0 duplicates, 1 failed (4/4)" in out
    code, out, _ = await asyncio.to_thread(_invoke, "rag", "ingest", str(docs / "netcheck.1"), *c)
    assert code == 0 and "0 added, 0 updated, 1 duplicates" in out
    code, out, _ = await asyncio.to_thread(
        _invoke, "rag", "query", "loss at an intermediate hop only", "--json", *c
    )
    passages = json.loads(out)
    assert code == 0 and passages[0]["citation"] == "netcheck(1) > Options"
    query = ("rag", "query", "loss at an intermediate hop only", "--json", *c)
    code, out, _ = await asyncio.to_thread(_invoke, *query, "--kind", "html", "--days", "1")
    assert {p["kind"] for p in json.loads(out)} == {"html"}
    code, out, _ = await asyncio.to_thread(_invoke, *query, "--device", "core-1")
    assert json.loads(out) == []
    code, out, _ = await asyncio.to_thread(_invoke, "rag", "docs", "--json", *c)
    listed = json.loads(out)
    assert sorted(d["title"] for d in listed) == [
        "BGP troubleshooting runbook",
        "WAN and QoS design",
        "netcheck(1)",
    ]
    assert all(d["tags"] == ["ops"] for d in listed)
    code, out, err = await asyncio.to_thread(
        _invoke, "rag", "ask", "what does netcheck exit with", *c
    )
    assert code == 0 and "Exit Status" in out and "the passages are the answer" in err
    man = next(d for d in listed if d["kind"] == "man")
    code, out, _ = await asyncio.to_thread(_invoke, "rag", "delete", man["id"], "nope", *c)
    assert code == 1 and "done: 1 deleted, 1 failed" in out

    held = open_index("genosd_kb", 256, tmp_path / "state" / "plugins" / "rag")
    try:
        code, _, err = await asyncio.to_thread(_invoke, "rag", "query", "bgp", *c)
        assert code == 1 and "set GENOSD_API_KEY to a viewer key" in err
    finally:
        held.close()
