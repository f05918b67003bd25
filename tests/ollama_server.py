"""An HTTP server speaking Ollama's documented API, for tests (no real Ollama can run here).

Endpoints: GET /api/tags, /api/version, POST /api/chat, /api/generate, /api/embed (and the old
/api/embeddings), each streaming NDJSON unless `"stream": false`, as Ollama does. What the model
"says" comes from `responder(request_body) -> content`; tool calls from `tool_calls`. `mode`
makes it misbehave the ways a real server or model can: slow, HTTP 500, a body that is not JSON,
content that is not JSON, JSON in the wrong shape, a stream cut short, an unknown model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.servers import free_tcp_port

Mode = str  # "ok" | "slow" | "http500" | "not_json" | "garbage" | "wrong_schema" | "cut_stream"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


class FakeOllama:
    """The server and its script: set `mode`, `responder`, `tool_calls`; read `requests`."""

    def __init__(self, models: tuple[str, ...] = ("qwen2.5-coder:7b", "nomic-embed-text:latest")):
        self.models = models
        self.mode: Mode = "ok"
        self.delay = 0.0
        self.responder: Callable[[dict[str, Any]], str] = lambda body: "{}"
        self.tool_calls: list[dict[str, Any]] | None = None
        # a conversation's script: body -> {"content": str, "tool_calls": [{"name", "arguments"}]}
        self.script: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1:port."""
        app = web.Application()
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/version", self._version)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_post("/api/embed", self._embed)
        app.router.add_post("/api/embeddings", self._embeddings)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)  # do not wait out "slow" replies
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()

    # -- helpers ----------------------------------------------------------------------------

    async def _body(self, request: web.Request, path: str) -> dict[str, Any]:
        body = await request.json()
        self.requests.append((path, body))
        if self.delay or self.mode == "slow":
            await asyncio.sleep(self.delay or 3600)
        if self.mode == "http500":
            raise web.HTTPInternalServerError(
                text=json.dumps({"error": "model runner crashed"}), content_type="application/json"
            )
        if body.get("model") not in self.models and path != "/api/embeddings":
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"model '{body.get('model')}' not found"}),
                content_type="application/json",
            )
        return body

    def _content(self, body: dict[str, Any]) -> str:
        if self.mode == "garbage":
            return "Sure! Here is my review: the config looks mostly fine, but"
        if self.mode == "wrong_schema":
            return json.dumps({"findings": [{"severity": "catastrophic", "msg": "?"}]})
        return self.responder(body)

    async def _reply(
        self, request: web.Request, stream: bool, final: dict[str, Any], pieces: list[dict]
    ) -> web.StreamResponse:
        if self.mode == "not_json":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if not stream:
            return web.json_response(final)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for piece in pieces:
            await response.write((json.dumps(piece) + "\n").encode())
            if self.mode == "cut_stream":
                if request.transport is not None:
                    request.transport.close()
                return response
        await response.write((json.dumps(final) + "\n").encode())
        await response.write_eof()
        return response

    @staticmethod
    def _stats() -> dict[str, Any]:
        return {
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "load_duration": 1000,
            "prompt_eval_count": 10,
            "eval_count": 5,
            "prompt_eval_duration": 1000,
            "eval_duration": 1000,
        }

    # -- endpoints --------------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.12.6"})

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "models": [
                    {
                        "name": m,
                        "model": m,
                        "modified_at": _now(),
                        "size": 4_683_087_332,
                        "digest": hashlib.sha256(m.encode()).hexdigest(),
                        "details": {
                            "format": "gguf",
                            "family": "qwen2",
                            "parameter_size": "7.6B",
                            "quantization_level": "Q4_K_M",
                        },
                    }
                    for m in self.models
                ]
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request, "/api/chat")
        stream = body.get("stream", True)
        calls = self.tool_calls
        if self.script is not None and self.mode == "ok":
            said = self.script(body)
            content, calls = said.get("content", ""), said.get("tool_calls")
        else:
            content = "" if calls else self._content(body)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [{"function": call} for call in calls]
        final = {"model": body["model"], "created_at": _now(), "message": message, **self._stats()}
        # the pieces join to exactly the content, as a real stream's do
        words = [w + " " for w in content.split(" ")] if content else []
        if words:
            words[-1] = words[-1][:-1]
        pieces = [
            {
                "model": body["model"],
                "created_at": _now(),
                "done": False,
                "message": {"role": "assistant", "content": w},
            }
            for w in words
        ]
        if stream:
            final["message"] = {
                "role": "assistant",
                "content": "",
                **({"tool_calls": message["tool_calls"]} if "tool_calls" in message else {}),
            }
        return await self._reply(request, stream, final, pieces)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request, "/api/generate")
        stream = body.get("stream", True)
        content = self._content(body)
        final = {"model": body["model"], "created_at": _now(), "response": content, **self._stats()}
        pieces = [
            {"model": body["model"], "created_at": _now(), "response": w + " ", "done": False}
            for w in content.split(" ")
        ]
        if stream:
            final["response"] = ""
        return await self._reply(request, stream, final, pieces)

    @staticmethod
    def vector(text: str, dims: int = 64) -> list[float]:
        """A deterministic unit vector from word hashes: similar texts get similar vectors."""
        values = [0.0] * dims
        for word in text.lower().split():
            digest = hashlib.sha256(word.encode()).digest()
            values[digest[0] % dims] += 1.0 if digest[1] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]

    async def _embed(self, request: web.Request) -> web.Response:
        body = await self._body(request, "/api/embed")
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return web.json_response(
            {
                "model": body["model"],
                "embeddings": [self.vector(t) for t in inputs],
                "total_duration": 1000,
                "load_duration": 10,
                "prompt_eval_count": len(inputs),
            }
        )

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._body(request, "/api/embeddings")
        return web.json_response({"embedding": self.vector(body["prompt"])})
