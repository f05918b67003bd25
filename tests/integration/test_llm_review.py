"""The LLM review layer and the Ollama protocol, against an HTTP server speaking Ollama's API."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import ollama
import pytest

from genosd.config.secrets import Masker
from genosd.config.validate import ValidationReport, llm_review
from genosd.llm import LlmLayer
from genosd.platforms import platform
from genosd.settings_sections import LlmSettings

CONFIG = """hostname r1
snmp-server community s3cret-community RO
line vty 0 4
 transport input telnet ssh
ntp server 10.0.0.1
"""


def _reviewer(body: dict[str, Any]) -> str:
    """A deterministic 'model': flags every numbered line that allows telnet."""
    prompt = body["messages"][-1]["content"]
    findings = [
        {"severity": "critical", "rule": "telnet", "message": "telnet allowed", "line": int(n)}
        for n, line in re.findall(r"^(\d+): (.*)$", prompt, re.MULTILINE)
        if "telnet" in line
    ]
    return json.dumps({"findings": findings})


def _report() -> ValidationReport:
    return ValidationReport("r1", [], 0, 0)


async def test_review_findings_carry_lines_and_the_prompt_is_redacted(fake_ollama):
    fake_ollama.responder = _reviewer
    settings = LlmSettings(url=fake_ollama.url, timeout=5)
    report = await llm_review(
        _report(), LlmLayer(settings, str), Masker(platform("ios"), "r1", b"k" * 32), CONFIG
    )
    assert report.llm == "findings"
    [finding] = report.findings
    assert (finding.layer, finding.rule, finding.severity, finding.line) == (
        "llm",
        "llm:telnet",
        "critical",
        4,
    )
    assert finding.text == " transport input telnet ssh"
    path, body = fake_ollama.requests[-1]
    assert path == "/api/chat" and body["model"] == settings.review_model
    assert body["stream"] is False and body["options"]["temperature"] == 0
    assert body["format"]["properties"]["findings"]["type"] == "array"  # the JSON schema
    sent = json.dumps(body)
    assert "s3cret-community" not in sent and "<secret:" in sent


async def test_a_clean_answer_passes_and_a_line_past_the_end_is_not_trusted(fake_ollama):
    settings = LlmSettings(url=fake_ollama.url, timeout=5)
    fake_ollama.responder = lambda body: '{"findings": []}'
    assert (
        await llm_review(
            _report(), LlmLayer(settings, str), Masker(platform("ios"), "r1", b"k" * 32), CONFIG
        )
    ).llm == "passed"
    fake_ollama.responder = lambda body: json.dumps(
        {"findings": [{"severity": "minor", "rule": "x", "message": "somewhere", "line": 999}]}
    )
    report = await llm_review(
        _report(), LlmLayer(settings, str), Masker(platform("ios"), "r1", b"k" * 32), CONFIG
    )
    assert report.findings[0].line is None and "past the end" in report.notes[0]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("slow", "no answer within"),
        ("http500", "HTTP 500"),
        ("not_json", "malformed reply"),
        ("garbage", "does not match the schema"),
        ("wrong_schema", "does not match the schema"),
        ("unknown_model", "has no model 'nope:1b'"),
        ("down", "unreachable"),
    ],
)
async def test_misbehaviour_is_unavailable_never_a_pass(fake_ollama, mode: str, reason: str):
    settings = LlmSettings(url=fake_ollama.url, timeout=0.5)
    if mode == "unknown_model":
        settings = LlmSettings(url=fake_ollama.url, timeout=5, review_model="nope:1b")
    elif mode == "down":
        await fake_ollama.stop()
    else:
        fake_ollama.mode = mode
    report = await llm_review(
        _report(), LlmLayer(settings, str), Masker(platform("ios"), "r1", b"k" * 32), CONFIG
    )
    assert report.llm == "unavailable"
    [finding] = report.findings
    assert finding.rule == "llm-unavailable" and finding.severity == "major"
    assert reason in finding.message and "LLM review unavailable" in finding.message


async def test_no_url_means_not_configured_and_no_request():
    report = await llm_review(
        _report(), LlmLayer(LlmSettings(), str), Masker(platform("ios"), "r1", b"k" * 32), CONFIG
    )
    assert report.llm == "not configured" and report.findings == []


async def test_the_fake_speaks_ollamas_protocol_to_the_official_client(fake_ollama):
    """Tags, streaming generate and chat, embeddings, tool calls: what the AI plugins will use."""
    client = ollama.AsyncClient(host=fake_ollama.url)
    names = [m.model for m in (await client.list()).models]
    assert names == list(fake_ollama.models)
    fake_ollama.responder = lambda body: "interfaces look fine"
    pieces = [
        p.response
        async for p in await client.generate(model="qwen2.5-coder:7b", prompt="hi", stream=True)
    ]
    assert "".join(pieces).split() == ["interfaces", "look", "fine"]
    chunks = [
        c
        async for c in await client.chat(
            model="qwen2.5-coder:7b", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    ]
    assert chunks[-1].done and "".join(c.message.content or "" for c in chunks).strip() == (
        "interfaces look fine"
    )
    embedded = await client.embed(model="nomic-embed-text:latest", input=["a b", "a b", "zzz"])
    first, second, third = embedded.embeddings
    assert first == second and first != third and len(first) == 64
    fake_ollama.tool_calls = [{"name": "device_status", "arguments": {"device": "r1"}}]
    reply = await client.chat(
        model="qwen2.5-coder:7b",
        messages=[{"role": "user", "content": "is r1 up?"}],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "device_status",
                    "description": "status",
                    "parameters": {"type": "object", "properties": {"device": {"type": "string"}}},
                },
            }
        ],
    )
    [call] = reply.message.tool_calls or []
    assert call.function.name == "device_status" and call.function.arguments == {"device": "r1"}
    fake_ollama.tool_calls, fake_ollama.mode = None, "cut_stream"
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        async for _ in await client.chat(
            model="qwen2.5-coder:7b", stream=True, messages=[{"role": "user", "content": "a b c"}]
        ):
            pass
    await client.close()
