"""The model servers genosd talks to: Ollama (its `ollama` client) and any OpenAI-compatible
endpoint (vLLM, llama.cpp's server, LM Studio, a gateway; the `openai` client). Each translates
its library's failures into ProviderError at this edge."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx
import ollama
import openai
from pydantic import ValidationError

from genosd.llm.types import Message, ProviderError, Reply, ToolCall

OnPiece = Callable[[str], None]


class Provider(Protocol):
    """A model server."""

    name: str

    async def chat(
        self,
        model: str,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        on_piece: OnPiece | None = None,
    ) -> Reply:
        """One answer (streamed to `on_piece` as it comes when given)."""

    async def models(self) -> list[str]:
        """The models the server has."""

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One vector per text."""

    async def close(self) -> None:
        """Release connections."""


def _short(text: str) -> str:
    return " ".join(text.split())[:300]


class OllamaProvider:
    """An Ollama server (`/api/chat`, `/api/tags`, `/api/embed`)."""

    def __init__(self, name: str, url: str, timeout: float):
        self.name = name
        self.client = ollama.AsyncClient(host=url, timeout=timeout, trust_env=False)
        self.timeout = timeout

    async def chat(
        self,
        model: str,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        on_piece: OnPiece | None = None,
    ) -> Reply:
        options: dict[str, Any] = {"temperature": 0}
        if max_tokens:
            options["num_predict"] = max_tokens
        started = time.monotonic()
        with self._translated():
            if on_piece is None:
                response = await self.client.chat(
                    model=model,
                    messages=messages,
                    format=schema,
                    tools=tools,
                    options=options,
                    stream=False,
                )
                return _ollama_reply(response, [], None)
            parts: list[str] = []
            first: float | None = None
            final = None
            stream = await self.client.chat(
                model=model, messages=messages, format=schema, tools=tools, options=options,
                stream=True,
            )  # fmt: skip
            async for piece in stream:
                text = piece.message.content or ""
                if text:
                    if first is None:
                        first = time.monotonic() - started
                    parts.append(text)
                    on_piece(text)
                final = piece
            if final is None or not final.done:
                raise ProviderError(f"{self.name}: the stream ended before the answer did")
            return _ollama_reply(final, parts, first)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """The `ollama` client's and httpx's failures as ProviderError, named."""
        try:
            yield
        except ProviderError:
            raise
        except ollama.ResponseError as exc:
            raise ProviderError(
                f"{self.name}: HTTP {exc.status_code}: {_short(str(exc.error))}"
            ) from None
        except httpx.TimeoutException:
            raise ProviderError(f"{self.name}: no answer within {self.timeout:g} s") from None
        except (httpx.HTTPError, ConnectionError) as exc:
            raise ProviderError(f"{self.name}: unreachable: {type(exc).__name__}") from None
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            raise ProviderError(
                f"{self.name}: malformed reply from the server: {type(exc).__name__}"
            ) from None

    async def models(self) -> list[str]:
        with self._translated():
            listed = await self.client.list()
        return sorted(m.model for m in listed.models if m.model)

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        with self._translated():
            response = await self.client.embed(model=model, input=texts)
        vectors = [list(v) for v in response.embeddings]
        if len(vectors) != len(texts):
            raise ProviderError(f"{self.name}: {len(vectors)} vectors for {len(texts)} texts")
        return vectors

    async def close(self) -> None:
        await self.client._client.aclose()


def _ollama_reply(response: Any, parts: list[str], first: float | None) -> Reply:
    message = response.message
    calls = [
        ToolCall(call.function.name, dict(call.function.arguments or {}))
        for call in (message.tool_calls or [])
    ]
    return Reply(
        "".join(parts) if parts else (message.content or ""),
        calls,
        int(response.prompt_eval_count or 0),
        int(response.eval_count or 0),
        first,
    )


class OpenAIProvider:
    """An OpenAI-compatible server (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`)."""

    def __init__(self, name: str, url: str, timeout: float, api_key: str | None):
        self.name = name
        self.timeout = timeout
        self.client = openai.AsyncOpenAI(
            base_url=url, api_key=api_key or "none", timeout=timeout, max_retries=0
        )
        # the SDK's overloads name OpenAI's own models and message types; any server's will do
        self._completions: Any = self.client.chat.completions

    async def chat(
        self,
        model: str,
        messages: list[Message],
        *,
        schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        on_piece: OnPiece | None = None,
    ) -> Reply:
        extra: dict[str, Any] = {"temperature": 0}
        if max_tokens:
            extra["max_tokens"] = max_tokens
        if schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            }
        if tools:
            extra["tools"] = tools
        started = time.monotonic()
        with self._translated():
            if on_piece is None:
                response = await self._completions.create(
                    model=model, messages=_openai_messages(messages), **extra
                )
                choice = response.choices[0]
                calls = [
                    ToolCall(c.function.name, _arguments(c.function.arguments))
                    for c in (choice.message.tool_calls or [])
                    if c.type == "function"
                ]
                usage = response.usage
                return Reply(
                    choice.message.content or "",
                    calls,
                    usage.prompt_tokens if usage else 0,
                    usage.completion_tokens if usage else 0,
                )
            return await self._stream(model, messages, extra, on_piece, started)

    async def _stream(
        self,
        model: str,
        messages: list[Message],
        extra: dict[str, Any],
        on_piece: OnPiece,
        started: float,
    ) -> Reply:
        stream = await self._completions.create(
            model=model,
            messages=_openai_messages(messages),
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        parts: list[str] = []
        first: float | None = None
        tokens_in = tokens_out = 0
        finished = False
        calls: dict[int, list[str]] = {}
        async for chunk in stream:
            if chunk.usage is not None:
                tokens_in, tokens_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            for choice in chunk.choices:
                text = choice.delta.content or ""
                if text:
                    if first is None:
                        first = time.monotonic() - started
                    parts.append(text)
                    on_piece(text)
                for call in choice.delta.tool_calls or []:
                    slot = calls.setdefault(call.index, ["", ""])
                    if call.function and call.function.name:
                        slot[0] += call.function.name
                    if call.function and call.function.arguments:
                        slot[1] += call.function.arguments
                if choice.finish_reason is not None:
                    finished = True
        if not finished:
            raise ProviderError(f"{self.name}: the stream ended before the answer did")
        tool_calls = [ToolCall(n, _arguments(a)) for n, a in calls.values()]
        return Reply("".join(parts), tool_calls, tokens_in, tokens_out, first)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """The `openai` client's and httpx's failures as ProviderError, named."""
        try:
            yield
        except ProviderError:
            raise
        except openai.APIStatusError as exc:
            raise ProviderError(
                f"{self.name}: HTTP {exc.status_code}: {_short(exc.message)}"
            ) from None
        except (openai.APITimeoutError, httpx.TimeoutException):
            raise ProviderError(f"{self.name}: no answer within {self.timeout:g} s") from None
        except (openai.APIConnectionError, httpx.HTTPError, ConnectionError) as exc:
            raise ProviderError(f"{self.name}: unreachable: {type(exc).__name__}") from None
        except (
            openai.APIError,
            ValidationError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
        ) as exc:
            raise ProviderError(
                f"{self.name}: malformed reply from the server: {type(exc).__name__}"
            ) from None

    async def models(self) -> list[str]:
        with self._translated():
            page = await self.client.models.list()
        return sorted(m.id for m in page.data)

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        with self._translated():
            response = await self.client.embeddings.create(model=model, input=texts)
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
        if len(vectors) != len(texts):
            raise ProviderError(f"{self.name}: {len(vectors)} vectors for {len(texts)} texts")
        return vectors

    async def close(self) -> None:
        await self.client.close()


def _openai_messages(messages: list[Message]) -> list[Message]:
    """genosd's messages (Ollama's form) as OpenAI's: a tool call gets an id and JSON arguments,
    and the tool message that answers it names that id (calls answered in order)."""
    out: list[Message] = []
    waiting: list[str] = []
    for message in messages:
        if message.get("tool_calls"):
            calls: list[dict[str, Any]] = []
            for call in message["tool_calls"]:
                call_id = f"call_{len(out)}_{len(calls)}"
                waiting.append(call_id)
                function = call["function"]
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": function["name"],
                            "arguments": json.dumps(function.get("arguments") or {}),
                        },
                    }
                )
            out.append({"role": "assistant", "content": message.get("content") or None,
                        "tool_calls": calls})  # fmt: skip
        elif message.get("role") == "tool":
            call_id = waiting.pop(0) if waiting else "call_unknown"
            out.append({"role": "tool", "tool_call_id": call_id, "content": message["content"]})
        else:
            out.append(message)
    return out


def _arguments(text: str | None) -> dict[str, Any]:
    """A tool call's arguments (JSON text from OpenAI-style servers); {} when not an object."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"_unparsed": (text or "")[:2000]}
    return value if isinstance(value, dict) else {"_value": value}
