"""The LLM layer every AI feature calls: `chat(kind, messages, …)`.

For each call: redact (nothing secret leaves the process), trim to the input cap (saying so),
then try the models the task kind routes to, in order: a model its server does not have, a
server that is down, a refusal, a timeout, a cut stream or an answer that does not fit the
schema (after one repair attempt) falls through to the next, the reason kept. Every attempt is
a usage row (provider, model, kind, tokens, latency, time to first token, result, cache hit).
Identical deterministic calls may be answered from a small cache. LlmUnavailable, naming every
reason, when no model answers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jsonschema
from pydantic import BaseModel, ValidationError

from genosd.llm.providers import OllamaProvider, OnPiece, OpenAIProvider, Provider
from genosd.llm.types import Kind, LlmUnavailable, Message, ProviderError, Reply, Usage
from genosd.settings_sections import LlmSettings

Answer = TypeVar("Answer", bound=BaseModel)
Schema = type[BaseModel] | dict[str, Any]  # a model, or a JSON Schema
Redact = Callable[[str], str]
OnUsage = Callable[[Usage], Awaitable[None]]
_MODELS_TTL = 60.0  # seconds a server's model list is trusted
TRIMMED = "\n…[{count} characters trimmed by genosd: the input is capped at {cap}]…\n"


@dataclass
class Result:
    """A model's answer and where it came from."""

    reply: Reply
    provider: str
    model: str
    cached: bool = False
    trimmed: int = 0  # characters cut from the input to fit `llm.max_input_chars`
    tried: list[str] = field(default_factory=list)  # why earlier candidates were skipped


@dataclass
class Embedded:
    """Vectors and the model that made them (vectors of different models do not compare)."""

    vectors: list[list[float]]
    provider: str
    model: str


def build_providers(settings: LlmSettings) -> dict[str, Provider]:
    """The configured servers by name."""
    found: dict[str, Provider] = {}
    for name, spec in settings.all_providers().items():
        if spec.type == "openai":
            key = spec.api_key.get_secret_value() if spec.api_key else None
            found[name] = OpenAIProvider(name, spec.url, spec.timeout or settings.timeout, key)
        else:
            found[name] = OllamaProvider(name, spec.url, spec.timeout or settings.timeout)
    return found


class LlmLayer:
    """Routes, redacts, trims, validates, accounts and caches every model call."""

    def __init__(
        self,
        settings: LlmSettings,
        redact: Redact,
        on_usage: OnUsage | None = None,
        providers: dict[str, Provider] | None = None,
    ):
        self.settings = settings
        self.redact = redact
        self.on_usage = on_usage
        self.providers = build_providers(settings) if providers is None else providers
        self._models: dict[str, tuple[float, list[str] | str]] = {}
        self._cache: OrderedDict[str, Reply] = OrderedDict()
        self.cache_hits = 0
        self.cache_lookups = 0

    @property
    def configured(self) -> bool:
        """Whether any model server is configured."""
        return bool(self.providers)

    async def close(self) -> None:
        """Release every provider's connections."""
        for provider in self.providers.values():
            await provider.close()

    async def server_models(self, provider: str) -> list[str]:
        """The models a server has (kept a minute); ProviderError if it cannot say."""
        now = time.monotonic()
        known = self._models.get(provider)
        if known is None or now - known[0] > _MODELS_TTL:
            try:
                known = (now, await self.providers[provider].models())
            except ProviderError as exc:
                known = (now, str(exc))
            self._models[provider] = known
        if isinstance(known[1], str):
            raise ProviderError(known[1])
        return known[1]

    async def candidates(
        self, kind: Kind, model: str | None = None
    ) -> tuple[list[tuple[str, str]], list[str]]:
        """(server, model) for `kind` in the configured order (or `model` on the first server
        that has it), only those a server has; and why the others were left out."""
        found: list[tuple[str, str]] = []
        skipped: list[str] = []
        wanted = self.settings.route(kind) if model is None else [(None, model)]
        for provider, wanted_model in wanted:
            names = [provider] if provider is not None else list(self.providers)
            reasons = []
            for name in names:
                if name not in self.providers:
                    continue
                try:
                    present = await self.server_models(name)
                except ProviderError as exc:
                    reasons.append(str(exc))
                    continue
                if _has(present, wanted_model):
                    found.append((name, _named(present, wanted_model)))
                    break
                reasons.append(f"{name}: has no model {wanted_model!r}")
            else:
                skipped += reasons
        return found, list(dict.fromkeys(skipped))

    async def chat(
        self,
        kind: Kind,
        messages: list[Message],
        *,
        schema: Schema | None = None,
        tools: list[dict[str, Any]] | None = None,
        on_piece: OnPiece | None = None,
        cache: bool = True,
        model: str | None = None,
    ) -> Result:
        """The first usable answer of the models `kind` routes to (or of `model` alone);
        LlmUnavailable otherwise."""
        if not self.providers:
            raise LlmUnavailable("no LLM is configured (llm.url or llm.providers)")
        routes, tried = await self.candidates(kind, model)
        safe, trimmed = self._prepare(messages)
        for provider_name, model in routes:
            # tool-calling turns are never cached: no key to compute (it hashes every message)
            key = (
                self._key(provider_name, model, safe, schema, tools)
                if cache and not tools
                else None
            )
            hit = self._cached(key) if key is not None and on_piece is None else None
            if hit is not None:
                await self._account(Usage(provider_name, model, kind, "ok", 0.0, cached=True))
                return Result(hit, provider_name, model, True, trimmed, tried)
            try:
                reply = await self._ask(provider_name, model, kind, safe, schema, tools, on_piece)
            except ProviderError as exc:
                tried.append(f"{model}: {exc}" if model not in str(exc) else str(exc))
                continue
            if key is not None:
                self._store(key, reply)
            return Result(reply, provider_name, model, False, trimmed, tried)
        raise LlmUnavailable(f"no model answered for {kind}: " + "; ".join(tried or ["none"]))

    async def structured(
        self, kind: Kind, messages: list[Message], answer: type[Answer], **options: Any
    ) -> tuple[Answer, Result]:
        """`chat` whose answer must validate as `answer` (after at most one repair)."""
        result = await self.chat(kind, messages, schema=answer, **options)
        return answer.model_validate_json(result.reply.content), result

    async def embed(self, texts: list[str], model: str | None = None) -> Embedded:
        """One vector per text (each redacted first) from the first model `embed` routes to (or
        `model`); LlmUnavailable otherwise. Vectors of one call all come from one model."""
        if not self.providers:
            raise LlmUnavailable("no LLM is configured (llm.url or llm.providers)")
        routes, tried = await self.candidates("embed", model)
        safe = [self.redact(text) for text in texts]
        for provider_name, name in routes:
            started = time.monotonic()
            try:
                vectors = await self.providers[provider_name].embed(name, safe)
                if len({len(v) for v in vectors}) > 1:
                    raise ProviderError(f"{provider_name}: vectors of different lengths")
            except ProviderError as exc:
                elapsed = time.monotonic() - started
                await self._account(
                    Usage(provider_name, name, "embed", "error", elapsed, error=str(exc))
                )
                tried.append(f"{name}: {exc}" if name not in str(exc) else str(exc))
                continue
            tokens = sum(len(t) for t in safe) // 4  # servers do not count embedding tokens
            await self._account(
                Usage(provider_name, name, "embed", "ok", time.monotonic() - started, tokens)
            )
            return Embedded(vectors, provider_name, name)
        raise LlmUnavailable("no model answered for embed: " + "; ".join(tried or ["none"]))

    def _prepare(self, messages: list[Message]) -> tuple[list[Message], int]:
        """Redacted copies of `messages`, trimmed to the input cap (the longest part first)."""
        safe = [
            {**m, "content": self.redact(m["content"])}
            if isinstance(m.get("content"), str)
            else dict(m)
            for m in messages
        ]
        cap = self.settings.max_input_chars
        total = sum(len(m.get("content") or "") for m in safe)
        if total <= cap:
            return safe, 0
        excess = total - cap
        longest = max(range(len(safe)), key=lambda i: len(safe[i].get("content") or ""))
        text = safe[longest]["content"]
        cut = min(excess + len(TRIMMED) + 32, len(text))
        head = (len(text) - cut) * 2 // 3
        tail = len(text) - cut - head
        marker = TRIMMED.format(count=cut, cap=cap)
        safe[longest] = {
            **safe[longest],
            "content": text[:head] + marker + text[len(text) - tail :],
        }
        return safe, cut

    async def _ask(
        self,
        provider_name: str,
        model: str,
        kind: Kind,
        messages: list[Message],
        schema: Schema | None,
        tools: list[dict[str, Any]] | None,
        on_piece: OnPiece | None,
    ) -> Reply:
        provider = self.providers[provider_name]
        json_schema = _json_schema(schema)
        started = time.monotonic()
        try:
            reply = await provider.chat(
                model,
                messages,
                schema=json_schema,
                tools=tools,
                max_tokens=self.settings.max_output_tokens,
                on_piece=on_piece,
            )
        except ProviderError as exc:
            await self._account(
                Usage(
                    provider_name, model, kind, "error", time.monotonic() - started, error=str(exc)
                )
            )
            raise
        result = "ok"
        if schema is not None and not reply.tool_calls:
            problem = _invalid(schema, reply.content)
            if problem is not None:
                repaired = await self._repair(
                    provider, model, messages, json_schema, reply, problem
                )
                problem = _invalid(schema, repaired.content) if repaired else problem
                if repaired is not None:
                    repaired.tokens_in += reply.tokens_in
                    repaired.tokens_out += reply.tokens_out
                    reply = repaired
                result = "repaired" if problem is None else "invalid"
                if problem is not None:
                    await self._account(
                        self._usage(provider_name, model, kind, result, started, reply, problem)
                    )
                    raise ProviderError(
                        f"{provider_name}: the answer does not match the schema: {problem}"
                    )
        await self._account(self._usage(provider_name, model, kind, result, started, reply, None))
        return reply

    async def _repair(
        self,
        provider: Provider,
        model: str,
        messages: list[Message],
        json_schema: dict[str, Any] | None,
        reply: Reply,
        problem: str,
    ) -> Reply | None:
        """One more try, telling the model what was wrong with its answer."""
        again = [
            *messages,
            {"role": "assistant", "content": reply.content[:4000]},
            {
                "role": "user",
                "content": f"That answer is not valid: {problem}. Answer again with JSON only, "
                "matching the schema exactly.",
            },
        ]
        try:
            return await provider.chat(
                model, again, schema=json_schema, max_tokens=self.settings.max_output_tokens
            )
        except ProviderError:
            return None

    @staticmethod
    def _usage(
        provider: str,
        model: str,
        kind: str,
        result: str,
        started: float,
        reply: Reply,
        error: str | None,
    ) -> Usage:
        return Usage(
            provider,
            model,
            kind,
            result,
            time.monotonic() - started,
            reply.tokens_in,
            reply.tokens_out,
            reply.first_token,
            error=error,
        )

    async def _account(self, usage: Usage) -> None:
        if self.on_usage is not None:
            await self.on_usage(usage)

    def _key(
        self,
        provider: str,
        model: str,
        messages: list[Message],
        schema: Schema | None,
        tools: list[dict[str, Any]] | None,
    ) -> str:
        material = json.dumps(
            [provider, model, messages, _json_schema(schema), tools],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(material.encode()).hexdigest()

    def _cached(self, key: str) -> Reply | None:
        if not self.settings.cache_entries:
            return None
        self.cache_lookups += 1
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
        return hit

    def _store(self, key: str, reply: Reply) -> None:
        if not self.settings.cache_entries:
            return
        self._cache[key] = reply
        while len(self._cache) > self.settings.cache_entries:
            self._cache.popitem(last=False)


def _json_schema(schema: Schema | None) -> dict[str, Any] | None:
    if schema is None or isinstance(schema, dict):
        return schema
    return schema.model_json_schema()


def _invalid(schema: Schema, content: str) -> str | None:
    """What is wrong with `content` as `schema`, or None."""
    if isinstance(schema, dict):
        try:
            jsonschema.validate(json.loads(content), schema)
        except json.JSONDecodeError as exc:
            return f"(answer): not JSON: {exc.msg}"
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "(answer)"
            return f"{where}: {exc.message}"[:300]
        return None
    try:
        schema.model_validate_json(content)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        return f"{where}: {first['msg']}"[:300]
    return None


def _has(present: list[str], model: str) -> bool:
    return _named(present, model) in present


def _named(present: list[str], model: str) -> str:
    """The server's name for `model` (Ollama lists `name:latest` for a bare `name`)."""
    if model in present or ":" in model:
        return model
    return f"{model}:latest" if f"{model}:latest" in present else model
