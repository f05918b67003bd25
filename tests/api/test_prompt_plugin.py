"""The prompt library plugin over the API: seeded prompts, versions on every edit, diff,
rollback, render with typed variables, export/import, roles; bad input refused and named."""

from __future__ import annotations

from genosd.auth.keys import Role
from genosd.plugin import builtin_prompts
from tests.api.test_events_ws import _bearer

BASE = "/api/v1/plugins/prompt"


async def test_seeded_edited_diffed_rolled_back_rendered_exported(api):
    client, keys = await api()
    viewer, operator, admin = (
        _bearer(keys.make(r)) for r in (Role.viewer, Role.operator, Role.admin)
    )
    listed = await (await client.get(f"{BASE}/prompts", headers=viewer)).json()
    names = [p["name"] for p in listed["items"]]
    assert names == [
        "agent-change-planner",
        "agent-config-reviewer",
        "agent-troubleshooter",
        "assistant",
        "chat-summary",
        "config-generate",
        "config-review",
        "diff-summary",
        "incident-summary",
        "rag-answer",
        "show-explain",
    ]
    review = next(p for p in listed["items"] if p["name"] == "config-review")
    assert review["version"] == 1 and review["author"] == "seed" and review["kind"] == "review"
    assert review["output_schema"]["required"] == ["findings"]

    url = f"{BASE}/prompts/diff-summary"
    change = {"template": "Device {{ device }}:\n{{ diff }}\nBe terse.", "note": "terser"}
    assert (await client.put(url, json=change, headers=operator)).status == 403
    edited = await (await client.put(url, json=change, headers=admin)).json()
    assert edited["version"] == 2 and edited["active"] and edited["note"] == "terser"
    assert edited["author"] not in ("", "seed")
    diff = await (await client.get(f"{url}/diff?a=1&b=2", headers=viewer)).json()
    assert diff["lines"][:2] == ["--- diff-summary v1", "+++ diff-summary v2"]
    assert any(line.startswith("+") and "Be terse." in line for line in diff["lines"][2:])
    assert not any(line.startswith("-") and "Be terse." in line for line in diff["lines"][2:])
    bad = await client.put(url, json={"template": "{{ unclosed"}, headers=admin)
    assert bad.status == 400 and "does not compile" in (await bad.json())["error"]["message"]
    back = await (await client.post(f"{url}/rollback", json={"version": 1}, headers=admin)).json()
    assert back["version"] == 3 and back["note"] == "rollback to version 1"
    assert back["author"] == edited["author"] and "Be terse." not in back["template"]
    versions = await (await client.get(f"{url}/versions", headers=viewer)).json()
    assert [v["version"] for v in versions["items"]] == [3, 2, 1]
    assert [v["active"] for v in versions["items"]] == [True, False, False]
    old = await (await client.get(f"{url}?version=2", headers=viewer)).json()
    assert "Be terse." in old["template"] and not old["active"]

    rendered = await client.post(
        f"{url}/render",
        json={"variables": {"device": "r1", "platform": "ios", "diff": "+ntp server 10.0.0.1"}},
        headers=operator,
    )
    messages = (await rendered.json())["messages"]
    assert messages[0]["role"] == "system" and "risk" in messages[0]["content"]
    assert "+ntp server 10.0.0.1" in messages[1]["content"]
    missing = await client.post(
        f"{url}/render", json={"variables": {"device": "r1"}}, headers=operator
    )
    assert missing.status == 400
    assert "variable 'platform' is required" in (await missing.json())["error"]["message"]

    new = await client.put(
        f"{BASE}/prompts/bgp-check",
        json={
            "template": "Is BGP healthy? {{ output }}",
            "variables": {"output": {"type": "text"}},
        },
        headers=admin,
    )
    assert new.status == 200 and (await new.json())["version"] == 1
    exported = await (await client.get(f"{BASE}/export", headers=viewer)).json()
    assert len(exported["items"]) == len(builtin_prompts()) + 1
    exported["items"][0]["description"] = "changed elsewhere"
    done = await (await client.post(f"{BASE}/import", json=exported, headers=admin)).json()
    assert done["changed"] == [exported["items"][0]["name"]]
    broken = await client.post(
        f"{BASE}/import",
        json={
            "items": [
                {"name": "x", "template": "ok"},
                {"name": "y", "kind": "poetry", "template": "t"},
            ]
        },
        headers=admin,
    )
    assert broken.status == 400 and "item 1 (y): kind" in (await broken.json())["error"]["message"]
    assert "x" not in [
        p["name"]
        for p in (await (await client.get(f"{BASE}/prompts", headers=viewer)).json())["items"]
    ]
    assert (await client.get(f"{BASE}/prompts/nope", headers=viewer)).status == 404


async def test_test_runs_and_an_ab_comparison_on_two_models(api):
    import json

    from tests.ollama_server import FakeOllama

    server = FakeOllama(models=("model-a:1b", "model-b:1b"))

    def answer(body: dict) -> str:
        if body["model"] == "model-b:1b":
            return json.dumps({"answer": "all good"})
        return json.dumps({"answer": f"ntp looks fine ({len(body['messages'])} messages)"})

    server.responder = answer
    await server.start()
    try:
        client, keys = await api(f"llm:\n  url: {server.url}\n  models: {{chat: [model-a:1b]}}\n")
        viewer, operator = (_bearer(keys.make(r)) for r in (Role.viewer, Role.operator))
        url = f"{BASE}/prompts/show-explain"
        variables = {"device": "r1", "platform": "ios", "command": "show ntp status", "output": "x"}
        ran = await (
            await client.post(f"{url}/test", json={"variables": variables}, headers=operator)
        ).json()
        assert ran["passed"] and ran["model"] == "model-a:1b" and ran["provider"] == "ollama"
        assert json.loads(ran["output"])["answer"].startswith("ntp looks fine (2 messages)")
        assert ran["tokens_in"] == 10 and ran["tokens_out"] == 5 and ran["latency"] > 0
        sent = server.requests[-1][1]
        assert sent["format"]["required"] == ["answer"]  # the prompt's output schema went along

        bad_case = {
            "name": "ntp",
            "variables": {"device": "r1"},
            "check": {"kind": "contains", "value": "ntp"},
        }
        refused = await client.put(f"{url}/cases", json=bad_case, headers=operator)
        assert refused.status == 400 and "is required" in (await refused.json())["error"]["message"]
        for name, check in (
            ("ntp", {"kind": "contains", "value": "ntp"}),
            ("shape", {"kind": "regex", "value": "^\\{"}),
        ):
            saved = await client.put(
                f"{url}/cases",
                json={"name": name, "variables": variables, "check": check},
                headers=operator,
            )
            assert saved.status == 200, await saved.text()
        compared = await client.post(
            f"{url}/compare",
            json={"a": {"model": "model-a:1b"}, "b": {"model": "model-b:1b"}},
            headers=operator,
        )
        result = await compared.json()
        assert [row["case"] for row in result["rows"]] == ["ntp", "shape"]
        ntp = result["rows"][0]
        assert ntp["a"]["passed"] and not ntp["b"]["passed"]
        assert ntp["b"]["problem"] == "does not contain 'ntp'" and ntp["b"]["model"] == "model-b:1b"
        assert result["a"]["passed"] == 2 and result["b"] == {
            **result["b"],
            "passed": 1,
            "failed": 1,
        }

        server.mode = "garbage"  # a model that never answers in the schema
        broken = await (
            await client.post(
                f"{url}/compare", json={"a": {}, "b": {"version": 1}}, headers=operator
            )
        ).json()
        assert all(not row["a"]["passed"] for row in broken["rows"])
        assert "does not match the schema" in broken["rows"][0]["a"]["problem"]
        runs = await (await client.get(f"{url}/runs", headers=viewer)).json()
        assert len(runs["items"]) == 1 + 4 + 4 and runs["items"][0]["comparison"] == broken["id"]
    finally:
        await server.stop()
