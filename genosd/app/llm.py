"""The LLM layer in the application: what is redacted, where usage goes, what models resolve to.

Redaction before anything leaves the process: every config-form secret of every platform (the
patterns config masking uses), every secret value genosd itself holds (device credentials,
communities, keys: found in the settings), and `llm.redact_patterns`. Usage rows go to the state
database (`llm_usage`) and to counters exported in /metrics.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, SecretStr

from genosd.config.secrets import redact_config_forms
from genosd.llm import KINDS, LlmLayer, ProviderError, Usage
from genosd.settings import GenosdSettings
from genosd.statedb import StateDB, transaction

REDACTED = "<redacted>"
_SHORTEST = 4  # a secret shorter than this would mask ordinary words
_REMEMBER_CHARS = 16_384  # longer texts are masked every time (1024 of them at most kept)


def _secret_values(value: Any) -> Iterator[str]:
    """Every SecretStr value inside a settings object."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_values(item)


def redactor(settings: GenosdSettings) -> Callable[[str], str]:
    """The function every text goes through before it reaches a model."""
    literals = sorted(
        {v for v in _secret_values(settings) if len(v) >= _SHORTEST}, key=len, reverse=True
    )
    known = re.compile("|".join(re.escape(v) for v in literals)) if literals else None
    patterns = [re.compile(p) for p in settings.llm.redact_patterns]

    def masked(text: str) -> str:
        text = redact_config_forms(text)
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern in patterns:
            text = pattern.sub(REDACTED, text)
        return text

    # a conversation sends the same system prompt and history on every call: remember short texts
    remembered = functools.lru_cache(maxsize=1024)(masked)

    def redact(text: str) -> str:
        return remembered(text) if len(text) <= _REMEMBER_CHARS else masked(text)

    return redact


class UsageBook:
    """Keeps every model call: a row in the state database and the /metrics counters."""

    def __init__(self, db: StateDB):
        self.db = db
        self.calls: dict[tuple[str, str, str, str], int] = {}
        self.tokens: dict[tuple[str, str, str], int] = {}
        self.seconds: dict[tuple[str, str], float] = {}
        self._writing: set[asyncio.Future[None]] = set()

    async def record(self, usage: Usage) -> None:
        """Count one call now and store it behind the caller's back (a chat turn does not
        wait for the database between its model calls); `flush()` before reading rows."""
        key = (usage.provider, usage.model, usage.kind, usage.result)
        self.calls[key] = self.calls.get(key, 0) + 1
        for direction, count in (("in", usage.tokens_in), ("out", usage.tokens_out)):
            slot = (usage.provider, usage.model, direction)
            self.tokens[slot] = self.tokens.get(slot, 0) + count
        where = (usage.provider, usage.model)
        self.seconds[where] = self.seconds.get(where, 0.0) + usage.latency
        future = asyncio.ensure_future(self.db.run(save_usage, usage))
        self._writing.add(future)
        future.add_done_callback(self._writing.discard)

    async def flush(self) -> None:
        """Wait until every counted call is stored."""
        # wait for what is not done yet (a done future's discard callback may still be queued)
        while pending := [f for f in self._writing if not f.done()]:
            await asyncio.gather(*pending, return_exceptions=True)
        self._writing.difference_update([f for f in self._writing if f.done()])


def save_usage(db: sqlite3.Connection, usage: Usage) -> None:
    """Store one usage row."""
    with transaction(db):
        db.execute(
            "INSERT INTO llm_usage (at, provider, model, kind, result, latency, tokens_in,"
            " tokens_out, first_token, cached, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                usage.at,
                usage.provider,
                usage.model,
                usage.kind,
                usage.result,
                usage.latency,
                usage.tokens_in,
                usage.tokens_out,
                usage.first_token,
                usage.cached,
                usage.error,
            ),
        )


def usage_totals(db: sqlite3.Connection, since: float = 0.0) -> dict[str, Any]:
    """Calls, tokens, latency and cache hits by model and by kind since `since`, and the newest
    failures."""
    columns = (
        "count(*), sum(tokens_in), sum(tokens_out), avg(latency), sum(cached),"
        " sum(result NOT IN ('ok', 'repaired'))"
    )
    names = ("calls", "tokens_in", "tokens_out", "mean_latency", "cache_hits", "failures")

    def grouped(by: str) -> list[dict[str, Any]]:
        rows = db.execute(
            f"SELECT {by}, {columns} FROM llm_usage WHERE at >= ? GROUP BY {by} ORDER BY {by}",
            (since,),
        ).fetchall()
        keys = [k.strip() for k in by.split(",")]
        return [
            {**dict(zip(keys, row[: len(keys)], strict=True)), **_numbers(names, row[len(keys) :])}
            for row in rows
        ]

    failures = db.execute(
        "SELECT at, provider, model, kind, result, error FROM llm_usage"
        " WHERE at >= ? AND result NOT IN ('ok', 'repaired') ORDER BY id DESC LIMIT 20",
        (since,),
    ).fetchall()
    return {
        "since": since,
        "by_model": grouped("provider, model"),
        "by_kind": grouped("kind"),
        "recent_failures": [
            dict(zip(("at", "provider", "model", "kind", "result", "error"), row, strict=True))
            for row in failures
        ],
    }


def _numbers(names: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    found = dict(zip(names, values, strict=True))
    found["mean_latency"] = round(found["mean_latency"] or 0.0, 4)
    return {k: (v or 0) for k, v in found.items()}


async def resolved_models(layer: LlmLayer) -> dict[str, Any]:
    """What each task kind resolves to (and why a configured model is left out), and each
    server's reachability and models: for `genosd llm models` and /api/v1/llm/models."""
    servers = []
    for name, provider in layer.providers.items():
        started = time.monotonic()
        try:
            models = await layer.server_models(name)
            servers.append(
                {
                    "name": name,
                    "type": type(provider).__name__.removesuffix("Provider").lower(),
                    "reachable": True,
                    "models": models,
                    "latency": round(time.monotonic() - started, 4),
                }
            )
        except ProviderError as exc:
            servers.append({"name": name, "reachable": False, "error": str(exc), "models": []})
    kinds = {}
    for kind in KINDS:
        found, skipped = await layer.candidates(kind)
        kinds[kind] = {
            "configured": [{"provider": p, "model": m} for p, m in layer.settings.route(kind)],
            "resolves_to": [{"provider": p, "model": m} for p, m in found],
            "left_out": skipped,
        }
    return {"configured": layer.configured, "providers": servers, "kinds": kinds}


class LlmCollector(Collector):
    """genosd_llm_* in /metrics."""

    def __init__(self, book: UsageBook, layer: Callable[[], LlmLayer]):
        self.book, self.layer = book, layer

    def collect(self) -> list[Metric]:
        """The counters as they are now."""
        calls = CounterMetricFamily(
            "genosd_llm_calls",
            "model calls by outcome",
            labels=["provider", "model", "kind", "result"],
        )
        for call, count in self.book.calls.items():
            calls.add_metric(list(call), count)
        tokens = CounterMetricFamily(
            "genosd_llm_tokens",
            "tokens sent and received",
            labels=["provider", "model", "direction"],
        )
        for slot, count in self.book.tokens.items():
            tokens.add_metric(list(slot), count)
        seconds = CounterMetricFamily(
            "genosd_llm_seconds", "time spent waiting for models", labels=["provider", "model"]
        )
        for where, total in self.book.seconds.items():
            seconds.add_metric(list(where), total)
        layer = self.layer()
        lookups = CounterMetricFamily("genosd_llm_cache_lookups", "response cache lookups")
        lookups.add_metric([], layer.cache_lookups)
        hits = CounterMetricFamily("genosd_llm_cache_hits", "response cache hits")
        hits.add_metric([], layer.cache_hits)
        return [calls, tokens, seconds, lookups, hits]
