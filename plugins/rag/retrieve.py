"""Questions to passages and answers. Retrieval is hybrid (BM25 and the dense model fused by
reciprocal rank) unless asked otherwise; every passage carries its citation (document > section,
or device @ commit, lines). With a model, the answer is the model's, checked to cite only the
passages it was given; without one, the ranked passages are the answer, with the same citations.
Retrieved text is data: the prompt says so, and nothing in it can reach a device."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, Field

from genosd.plugin import LlmUnavailable, PluginContext
from plugins.rag.index import Filters, Mode
from plugins.rag.ingest import KnowledgeBase
from plugins.rag.sparse import query_vector


class Passage(BaseModel):
    """One retrieved chunk and where it comes from."""

    rank: int
    score: float
    citation: str
    doc: str
    source: str
    title: str
    kind: str
    heading: list[str]
    text: str
    tags: list[str] = []
    device: str | None = None
    commit: str | None = None
    date: float | None = None
    line_start: int | None = None
    line_end: int | None = None
    ingested_at: float | None = None


class Answer(BaseModel):
    """An answer to a question, the passages it rests on, and how it was made."""

    question: str
    answer: str | None = Field(None, description="the model's answer; None without a model")
    mode: str = Field(description="'model' or 'passages' (no model: the passages are the answer)")
    citations: list[int] = Field(default_factory=list, description="ranks of the cited passages")
    passages: list[Passage]
    model: str | None = None
    prompt: str | None = None
    notes: list[str] = Field(default_factory=list)


def citation(payload: dict[str, Any]) -> str:
    """How a passage is cited: 'title > section' or 'device @ commit (date), lines a-b'."""
    if payload.get("device") and payload.get("commit"):
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(payload.get("date") or 0))
        lines = ""
        if payload.get("line_start"):
            lines = f", lines {payload['line_start']}-{payload.get('line_end')}"
        return f"{payload['device']} @ {str(payload['commit'])[:10]} ({when} UTC){lines}"
    return " > ".join(
        [payload.get("title") or payload.get("source", "?"), *payload.get("heading", [])]
    )


async def search(
    kb: KnowledgeBase,
    query: str,
    mode: Mode = "hybrid",
    limit: int = 5,
    filters: Filters | None = None,
) -> list[Passage]:
    """The best passages for `query`."""
    sparse = query_vector(query) if mode in ("hybrid", "sparse") else None
    dense = None
    if mode in ("hybrid", "dense") and kb.embedder is not None:
        dense = await kb.embedder.query(query)
        if len(dense) != kb.index.dense_size:
            dense = None  # the stored vectors are another model's: BM25 alone until a re-index
    points = await asyncio.to_thread(
        kb.index.search, sparse, dense, limit, filters, kb.settings.fusion
    )
    passages = []
    for rank, point in enumerate(points, start=1):
        payload = point.payload
        fields = {key: payload.get(key) for key in _PAYLOAD_FIELDS}
        passages.append(
            Passage(
                rank=rank, score=round(float(point.score), 6), citation=citation(payload), **fields
            )
        )
    return passages


_PAYLOAD_FIELDS = (
    "doc",
    "source",
    "title",
    "kind",
    "heading",
    "text",
    "tags",
    "device",
    "commit",
    "date",
    "line_start",
    "line_end",
    "ingested_at",
)


def named_devices(question: str, devices: list[str]) -> list[str]:
    """The inventory devices a question names (whole names, any case), longest first."""
    found = [
        d
        for d in sorted(devices, key=len, reverse=True)
        if re.search(rf"(?<![\w.-]){re.escape(d)}(?![\w.-])", question, re.IGNORECASE)
    ]
    return found


def _merged(first: list[Passage], then: list[Passage], limit: int) -> list[Passage]:
    """`first` ahead of `then`, without repeats, ranked again from 1."""
    seen: set[tuple[str, str]] = set()
    out: list[Passage] = []
    for passage in [*first, *then]:
        key = (passage.doc, passage.text)
        if key not in seen:
            seen.add(key)
            out.append(passage.model_copy(update={"rank": len(out) + 1}))
    return out[: max(limit, len(first))]


def _numbered(passages: list[Passage]) -> str:
    return "\n\n".join(f"[{p.rank}] ({p.citation})\n<<<\n{p.text}\n>>>" for p in passages)


async def answer(
    kb: KnowledgeBase,
    context: PluginContext,
    question: str,
    filters: Filters | None = None,
    model: str | None = None,
) -> Answer:
    """The model's answer from the best passages, or the passages alone without a model. A
    question naming an inventory device also searches that device's config changes."""
    limit = kb.settings.answer_passages
    passages = await search(kb, question, "hybrid", limit, filters)
    if filters is None or filters.device is None:
        changes: list[Passage] = []
        for device in named_devices(question, [d.name for d in context.devices()])[:3]:
            scope = replace(filters or Filters(), device=device, kind="change")
            changes += await search(kb, question, "hybrid", 3, scope)
        # the newest relevant change first (commits of one second in the order they were made)
        changes.sort(key=lambda p: (p.date or 0, p.ingested_at or 0), reverse=True)
        passages = _merged(changes, passages, limit)
    if not passages:
        return Answer(
            question=question,
            mode="passages",
            passages=[],
            notes=["nothing in the knowledge base matches the question"],
        )
    prompt = await context.prompt(
        "rag-answer", {"question": question, "passages": _numbered(passages)}
    )
    try:
        reply = await context.ask(
            prompt.kind, prompt.messages, model=model, schema=prompt.output_schema
        )
    except LlmUnavailable as exc:
        return Answer(
            question=question,
            mode="passages",
            passages=passages,
            prompt=prompt.origin,
            notes=[f"no model answered ({exc}): the passages are the answer", *prompt.notes],
        )
    notes = list(prompt.notes)
    try:
        data = json.loads(reply.content)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
        notes.append(f"{prompt.origin} did not give {{answer, citations}}: the text is shown as is")
        data = {"answer": reply.content, "citations": []}
    raw = data.get("citations")
    cited = [n for n in raw if isinstance(n, int)] if isinstance(raw, list) else []
    valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(passages)]
    if len(valid) != len(cited):
        notes.append(
            f"the model cited passages that were not given: {sorted(set(cited) - set(valid))}"
        )
    return Answer(
        question=question,
        answer=str(data.get("answer", "")),
        mode="model",
        citations=valid,
        passages=passages,
        model=f"{reply.provider}/{reply.model}",
        prompt=prompt.origin,
        notes=notes,
    )
