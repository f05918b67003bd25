"""A playbook's `llm` step against a server speaking Ollama's API: the answer is the step's
result, the prompt never carries a secret, and a model that misbehaves fails the host only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genosd.app.core import tool_core
from genosd.app.playbook_engine import finish_run
from genosd.app.playbooks import begin
from genosd.app.snapshot import Sources, load_snapshot
from genosd.playbooks.loader import load_playbook
from tests.ssh_lab import PASSWORD, SECRET, write_setup

PLAYBOOK = """name: explain
rollout: {max_failures: 2}
steps:
  - name: config
    show: {commands: [show running-config]}
    register: cfg
  - name: ask
    llm:
      prompt: "Is SNMP locked down on {{ host.name }}? Config:\\n{{ cfg.output }}\\nlogin {{ secret }}"
    register: advice
  - name: report
    notify: {message: "{{ host.name }}: {{ advice.answer }}"}
"""


async def _run(tmp_path: Path, ssh_lab: Any, url: str) -> Any:
    config, secrets = write_setup(
        tmp_path,
        ssh_lab.ports,
        settings=f"ssh: {{host_key_policy: accept-new}}\n"
        f"llm: {{url: '{url}', timeout: 3, models: {{chat: [qwen2.5-coder:7b]}}}}\n",
    )
    path = tmp_path / "explain.yaml"
    path.write_text(PLAYBOOK.replace("{{ secret }}", PASSWORD))
    playbook = load_playbook(path)
    async with tool_core(load_snapshot(Sources(config, None, (secrets,)))) as core:
        return await finish_run(core, playbook, await begin(core, playbook, {}, actor="test"))


async def test_the_answer_is_the_result_and_no_secret_reaches_the_model(
    ssh_lab, tmp_path: Path, fake_ollama
):
    fake_ollama.responder = lambda body: json.dumps(
        {"answer": f"{len(body['messages'][-1]['content'])} chars read; community is weak"}
    )
    record = await _run(tmp_path, ssh_lab, fake_ollama.url)
    assert record.status == "ok", record.stopped_because
    advice = {n: r for s in record.steps if s.step == "ask" for n, r in s.hosts.items()}
    assert advice["r1"].data["answer"].endswith("chars read; community is weak")
    assert advice["r1"].data["model"] == "qwen2.5-coder:7b"
    prompts = [
        b["messages"][-1]["content"] for path, b in fake_ollama.requests if path == "/api/chat"
    ]
    assert len(prompts) == 2 and all("snmp-server community" in p for p in prompts)
    for prompt in prompts:
        for secret in ("s3cret-community", PASSWORD, SECRET, "$9$oNguEA9um9vRx"):
            assert secret not in prompt, secret


async def test_a_model_that_misbehaves_fails_the_host_not_the_run(
    ssh_lab, tmp_path: Path, fake_ollama
):
    fake_ollama.mode = "wrong_schema"
    record = await _run(tmp_path, ssh_lab, fake_ollama.url)
    advice = {n: r for s in record.steps if s.step == "ask" for n, r in s.hosts.items()}
    assert all(r.status == "failed" for r in advice.values())
    assert "does not match the schema" in (advice["r1"].error or "")
    assert record.status == "partial" and record.failed_hosts == ["r1", "r2"]
