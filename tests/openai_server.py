"""An HTTP server speaking the OpenAI-compatible API (as vLLM, llama.cpp's server, LM Studio do),
for tests: GET /v1/models, POST /v1/chat/completions (JSON, or server-sent events when
`"stream": true`, usage in the last chunk), POST /v1/embeddings. What the model "says" comes from
`responder(body)`, tool calls from `tool_calls`; `mode` makes
it misbehave: slow, http500, not_json, cut_stream, huge.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.servers import free_tcp_port


class FakeOpenAI:
    """The server and its script: set `mode`, `responder`, `tool_calls`; read `requests`."""

    def __init__(self, models: tuple[str, ...] = ("llama-3.1-8b-instruct", "bge-small")):
        self.models = models
        self.mode = "ok"
        self.delay = 2.0
        self.responder: Callable[[dict[str, Any]], str] = lambda body: "{}"
        self.tool_calls: list[dict[str, Any]] | None = None
        # a conversation's script: body -> {"content": str, "tool_calls": [{"name", "arguments"}]}
        self.script: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        """Listen on a free loopback port; `url` is the API base (…/v1)."""
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_tcp_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _misbehave(self) -> web.Response | None:
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "http500":
            return web.json_response({"error": {"message": "model crashed"}}, status=500)
        if self.mode == "not_json":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        return None

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(("/v1/models", {}))
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(("/v1/chat/completions", body))
        bad = await self._misbehave()
        if bad is not None:
            return bad
        if body["model"] not in self.models:
            return web.json_response(
                {"error": {"message": f"model {body['model']} does not exist"}}, status=404
            )
        problem = _tool_message_problem(body.get("messages", []))
        if problem is not None:  # as vLLM and OpenAI refuse a broken tool exchange
            return web.json_response({"error": {"message": problem}}, status=400)
        tool_calls = self.tool_calls
        if self.script is not None:
            said = self.script(body)
            content, tool_calls = said.get("content", ""), said.get("tool_calls")
        else:
            content = "" if tool_calls else self.responder(body)
        if self.mode == "huge":
            content = "x" * 1_000_000
        calls = [
            {
                "id": f"call_{n}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for n, c in enumerate(tool_calls or [])
        ]
        usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
        base = {"id": "chatcmpl-1", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content or None}
            if calls:
                message["tool_calls"] = calls
            choice = {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunks: list[dict[str, Any]] = [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": word + " "},
                "finish_reason": None,
            }
            for word in content.split(" ")
            if content
        ]
        for n, call in enumerate(calls):
            chunks.append({"index": 0, "delta": {"tool_calls": [{**call, "index": n}]}})
        chunks.append({"index": 0, "delta": {}, "finish_reason": "tool_calls" if calls else "stop"})
        for number, choice in enumerate(chunks):
            chunk = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.mode == "cut_stream" and number == 1:
                if request.transport is not None:
                    request.transport.close()
                return response
        last = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        await response.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(("/v1/embeddings", body))
        bad = await self._misbehave()
        if bad is not None:
            return bad
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": n, "embedding": [float(len(t)), 1.0, 0.5]}
            for n, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": 3, "total_tokens": 3}
        return web.json_response(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )


def _tool_message_problem(messages: list[dict[str, Any]]) -> str | None:
    """What an OpenAI-compatible server would refuse in a tool exchange, or None."""
    open_ids: set[str] = set()
    for message in messages:
        for call in message.get("tool_calls") or []:
            if not call.get("id") or not isinstance(call.get("function", {}).get("arguments"), str):
                return "a tool call needs an id and its arguments as a JSON string"
            open_ids.add(call["id"])
        if message.get("role") == "tool" and message.get("tool_call_id") not in open_ids:
            return f"tool message answers unknown tool_call_id {message.get('tool_call_id')!r}"
    return None
