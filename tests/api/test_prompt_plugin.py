"""The prompt library plugin over the API: seeded prompts, versions on every edit, diff,
rollback, render with typed variables, export/import, roles; bad input refused and named."""

from __future__ import annotations

from genosd.auth.keys import Role
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
        "config-generate",
        "config-review",
        "diff-summary",
        "incident-summary",
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
    assert len(exported["items"]) == 6
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
