"""The LLM layer against servers speaking Ollama's API and the OpenAI-compatible API on loopback:
routing and fallback order, structured answers with one repair, streaming, tool calls, trimming,
the cache, usage rows for every attempt, and redaction (no secret in any request body)."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from genosd.app.llm import UsageBook, redactor, usage_totals
from genosd.llm import LlmLayer, LlmUnavailable, Usage
from genosd.settings import GenosdSettings
from genosd.settings_sections import LlmSettings
from genosd.statedb import StateDB
from tests.openai_server import FakeOpenAI


class Verdict(BaseModel):
    """A small structured answer."""

    risk: int
    why: str


@pytest.fixture
async def fake_openai():
    server = FakeOpenAI()
    await server.start()
    yield server
    await server.stop()


def _layer(llm: dict[str, Any], usage: list[Usage] | None = None) -> LlmLayer:
    async def keep(row: Usage) -> None:
        if usage is not None:
            usage.append(row)

    return LlmLayer(LlmSettings.model_validate(llm), str, keep)


def _both(fake_ollama: Any, fake_openai: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "local": {"type": "ollama", "url": fake_ollama.url},
            "gateway": {"type": "openai", "url": fake_openai.url, "api_key": "gw-token-123"},
        },
        "timeout": 2,
        **extra,
    }


async def test_a_failing_model_falls_through_in_order_with_every_attempt_recorded(
    fake_ollama, fake_openai
):
    usage: list[Usage] = []
    fake_ollama.mode = "http500"
    fake_openai.responder = lambda body: '{"risk": 2, "why": "adds an NTP server"}'
    models = {
        "summary": [
            {"provider": "local", "model": "missing-model:1b"},
            {"provider": "local", "model": "qwen2.5-coder:7b"},
            "llama-3.1-8b-instruct",
        ]
    }
    layer = _layer(_both(fake_ollama, fake_openai, models=models), usage)
    answer, result = await layer.structured(
        "summary", [{"role": "user", "content": "rate this diff"}], Verdict
    )
    assert answer == Verdict(risk=2, why="adds an NTP server")
    assert (result.provider, result.model) == ("gateway", "llama-3.1-8b-instruct")
    assert result.tried[0] == "local: has no model 'missing-model:1b'"
    assert "HTTP 500" in result.tried[1] and "model runner crashed" in result.tried[1]
    assert [(u.provider, u.model, u.result) for u in usage] == [
        ("local", "qwen2.5-coder:7b", "error"),
        ("gateway", "llama-3.1-8b-instruct", "ok"),
    ]
    assert usage[1].tokens_in == 12 and usage[1].tokens_out == 7
    _, body = fake_openai.requests[-1]
    assert body["response_format"]["type"] == "json_schema" and body["temperature"] == 0
    await layer.close()


async def test_an_invalid_answer_gets_one_repair_then_falls_through(fake_ollama, fake_openai):
    usage: list[Usage] = []
    answers = iter(['{"risk": "high"}', '{"risk": 3, "why": "fixed"}'])
    fake_openai.responder = lambda body: next(answers)
    layer = _layer(
        _both(fake_ollama, fake_openai, models={"review": ["llama-3.1-8b-instruct"]}), usage
    )
    answer, _ = await layer.structured("review", [{"role": "user", "content": "x"}], Verdict)
    assert answer.risk == 3 and usage[-1].result == "repaired"
    repair = fake_openai.requests[-1][1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"risk": "high"}'}
    assert "not valid" in repair[-1]["content"] and "risk" in repair[-1]["content"]

    fake_openai.responder = lambda body: "Sure! The config looks fine."  # never JSON
    with pytest.raises(LlmUnavailable, match="does not match the schema"):
        await layer.structured("review", [{"role": "user", "content": "y"}], Verdict)
    assert usage[-1].result == "invalid"
    await layer.close()


async def test_nothing_configured_or_reachable_is_said_plainly(fake_ollama):
    with pytest.raises(LlmUnavailable, match=r"no LLM is configured \(llm.url"):
        await _layer({}).chat("chat", [{"role": "user", "content": "hi"}])
    await fake_ollama.stop()
    layer = _layer({"url": fake_ollama.url, "timeout": 1})
    with pytest.raises(LlmUnavailable, match="no model answered for chat: ollama: unreachable"):
        await layer.chat("chat", [{"role": "user", "content": "hi"}])
    await layer.close()


@pytest.mark.parametrize("server", ["ollama", "openai"])
async def test_streaming_pieces_and_a_cut_stream(fake_ollama, fake_openai, server: str):
    fake = fake_ollama if server == "ollama" else fake_openai
    model = "qwen2.5-coder:7b" if server == "ollama" else "llama-3.1-8b-instruct"
    fake.responder = lambda body: "interfaces look healthy today"
    usage: list[Usage] = []
    layer = _layer(_both(fake_ollama, fake_openai, models={"chat": [model]}), usage)
    pieces: list[str] = []
    result = await layer.chat("chat", [{"role": "user", "content": "how?"}], on_piece=pieces.append)
    assert "".join(pieces).split() == ["interfaces", "look", "healthy", "today"]
    assert result.reply.content.split() == ["interfaces", "look", "healthy", "today"]
    assert usage[-1].first_token is not None and usage[-1].first_token <= usage[-1].latency
    fake.mode = "cut_stream"
    with pytest.raises(LlmUnavailable) as caught:
        await layer.chat("chat", [{"role": "user", "content": "again"}], on_piece=pieces.append)
    assert usage[-1].result == "error" and str(caught.value).startswith("no model answered")
    await layer.close()


@pytest.mark.parametrize("server", ["ollama", "openai"])
async def test_tool_calls_come_back_as_calls(fake_ollama, fake_openai, server: str):
    fake = fake_ollama if server == "ollama" else fake_openai
    model = "qwen2.5-coder:7b" if server == "ollama" else "llama-3.1-8b-instruct"
    fake.tool_calls = [{"name": "device_status", "arguments": {"device": "r1"}}]
    layer = _layer(_both(fake_ollama, fake_openai, models={"chat": [model]}))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "device_status",
                "description": "a device's status",
                "parameters": {"type": "object", "properties": {"device": {"type": "string"}}},
            },
        }
    ]
    result = await layer.chat("chat", [{"role": "user", "content": "is r1 up?"}], tools=tools)
    [call] = result.reply.tool_calls
    assert call.name == "device_status" and call.arguments == {"device": "r1"}
    await layer.close()


async def test_long_input_is_trimmed_and_says_so_and_the_cache_answers_repeats(fake_ollama):
    fake_ollama.responder = lambda body: "ok"
    usage: list[Usage] = []
    layer = _layer(
        {
            "url": fake_ollama.url,
            "max_input_chars": 2000,
            "models": {"summary": ["qwen2.5-coder:7b"]},
        },
        usage,
    )
    text = "A" * 3000 + "THE-END"
    result = await layer.chat("summary", [{"role": "user", "content": text}])
    sent = fake_ollama.requests[-1][1]["messages"][0]["content"]
    assert result.trimmed > 1000 and len(sent) <= 2000
    assert "characters trimmed by genosd" in sent and sent.endswith("THE-END")
    chats = sum(1 for path, _ in fake_ollama.requests if path == "/api/chat")
    again = await layer.chat("summary", [{"role": "user", "content": text}])
    assert again.cached and again.reply.content == "ok"
    assert sum(1 for path, _ in fake_ollama.requests if path == "/api/chat") == chats
    assert usage[-1].cached and layer.cache_hits == 1 and layer.cache_lookups == 2
    await layer.close()


async def test_usage_rows_are_stored_and_totalled(fake_ollama, tmp_path: Path):
    db = StateDB(tmp_path / "state.sqlite3")
    await db.open()
    book = UsageBook(db)
    layer = LlmLayer(LlmSettings(url=fake_ollama.url, timeout=2), str, book.record)
    fake_ollama.responder = lambda body: "fine"
    await layer.chat("generate", [{"role": "user", "content": "a"}])
    fake_ollama.mode = "http500"
    with pytest.raises(LlmUnavailable):
        await layer.chat("generate", [{"role": "user", "content": "b"}])
    await book.flush()  # rows are written behind the answers
    totals = await db.run(usage_totals)
    [model] = totals["by_model"]
    assert model["model"] == "qwen2.5-coder:7b" and model["calls"] == 2 and model["failures"] == 1
    assert totals["by_kind"][0]["kind"] == "generate"
    assert "HTTP 500" in totals["recent_failures"][0]["error"]
    assert book.calls[("ollama", "qwen2.5-coder:7b", "generate", "error")] == 1
    await layer.close()
    await db.close()


_SECRET = st.text(string.ascii_letters + string.digits + "!#%&*+-=?@^_", min_size=8, max_size=24)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(community=_SECRET, password=_SECRET, token=_SECRET)
async def test_no_secret_of_the_corpus_reaches_any_request_body(
    fake_openai, community: str, password: str, token: str
):
    settings_ = GenosdSettings.model_validate(
        {
            "state_dir": "/tmp/genosd-redaction",
            "ssh_credentials": {"lab": {"username": "admin", "password": password}},
            "llm": {
                "providers": {"gw": {"type": "openai", "url": fake_openai.url, "api_key": token}},
                "models": {"chat": ["llama-3.1-8b-instruct"]},
                "redact_patterns": [r"(?i)ticket-\d+"],
            },
        }
    )
    fake_openai.responder = lambda body: "noted"
    layer = LlmLayer(settings_.llm, redactor(settings_))
    text = (
        f"snmp-server community {community} RO\n"
        f"username ops privilege 15 password 0 {community}\n"
        f"the lab password is {password}, api token {token}, see TICKET-4711\n"
        f"set snmp community {community} authorization read-only\n"
        f"radius-server key {password}"
    )
    await layer.chat("chat", [{"role": "user", "content": text}], cache=False)
    body = json.dumps(fake_openai.requests[-1][1])
    for secret in (community, password, token, "TICKET-4711"):
        assert secret not in body
    assert "snmp-server community" in body  # the line is kept, its secret is not
    await layer.close()


async def test_embeddings_fall_through_redact_and_are_accounted(fake_ollama, fake_openai):
    usage: list[Usage] = []
    settings = _both(
        fake_ollama,
        fake_openai,
        models={"embed": [{"provider": "local", "model": "missing-embedder"}, "text-embed-3"]},
    )
    fake_openai.models = ("text-embed-3",)
    layer = LlmLayer(
        LlmSettings.model_validate(settings),
        lambda text: text.replace("hunter2", "<secret>"),
        lambda row: _append(usage, row),
    )
    done = await layer.embed(["enable secret hunter2", "ntp server 10.0.0.1"])
    assert (done.provider, done.model) == ("gateway", "text-embed-3")
    assert [len(v) for v in done.vectors] == [3, 3]
    sent = fake_openai.requests[-1][1]["input"]
    assert sent == ["enable secret <secret>", "ntp server 10.0.0.1"]  # redacted before it left
    assert [(u.model, u.kind, u.result) for u in usage] == [("text-embed-3", "embed", "ok")]
    fake_openai.mode = "http500"
    with pytest.raises(LlmUnavailable, match="no model answered for embed"):
        await layer.embed(["x"])
    assert usage[-1].result == "error" and usage[-1].kind == "embed"
    await layer.close()


async def _append(rows: list[Usage], row: Usage) -> None:
    rows.append(row)
