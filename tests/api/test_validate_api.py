"""`POST /api/v1/validate`: any config checked against the baselines over the API."""

from __future__ import annotations

from genosd.auth.keys import Role
from tests.api.test_events_ws import _bearer
from tests.compliance_set import SET, load_labelled


async def test_a_config_is_checked_and_its_platform_detected(api):
    client, keys = await api()
    viewer = _bearer(keys.make(Role.viewer))
    legacy = load_labelled(SET / "ios" / "legacy-router.cfg")
    response = await client.post(
        "/api/v1/validate", json={"text": legacy.text, "name": "branch-r9"}, headers=viewer
    )
    assert response.status == 200
    body = await response.json()
    assert body["platform"] == "ios" and body["platform_detected"] is True
    got = sorted(((f["rule"], f["line"]) for f in body["findings"]), key=str)
    assert got == sorted(legacy.expected, key=str)
    user = next(f for f in body["findings"] if f["rule"] == "ios-user-clear-password")
    assert "cisco123" not in user["text"] and "<masked>" in user["text"]  # quoted lines masked
    assert user["remediation"] and user["references"]
    assert body["score"] < 50 and body["rules_applied"] >= 30


async def test_a_config_that_says_nothing_of_its_platform_is_a_clear_400(api):
    client, keys = await api()
    viewer = _bearer(keys.make(Role.viewer))
    unknown = await client.post("/api/v1/validate", json={"text": "hello\n"}, headers=viewer)
    assert unknown.status == 400
    assert "cannot tell which platform" in (await unknown.json())["error"]["message"]
    wrong = await client.post(
        "/api/v1/validate", json={"text": "hostname a\n", "platform": "vyos"}, headers=viewer
    )
    assert wrong.status == 400 and "unknown platform 'vyos'" in await wrong.text()
    given = await client.post(
        "/api/v1/validate", json={"text": "hostname a\n", "platform": "ios"}, headers=viewer
    )
    assert (await given.json())["platform_detected"] is False
    assert (await client.post("/api/v1/validate", json={"text": "x"})).status == 401


async def test_a_windows_saved_file_gives_the_same_findings(api):
    client, keys = await api()
    viewer = _bearer(keys.make(Role.viewer))
    legacy = load_labelled(SET / "ios" / "legacy-router.cfg")
    windows = "\ufeff" + legacy.text.replace("\n", "\r\n")
    body = await (
        await client.post("/api/v1/validate", json={"text": windows}, headers=viewer)
    ).json()
    assert body["platform"] == "ios" and body["platform_detected"] is True
    got = sorted(((f["rule"], f["line"]) for f in body["findings"]), key=str)
    assert got == sorted(legacy.expected, key=str)
    # a byte-order mark must not hide the first line from the rules
    first = "\ufeffset system services telnet\r\nset system host-name j1\r\n"
    junos = await (
        await client.post(
            "/api/v1/validate", json={"text": first, "platform": "junos"}, headers=viewer
        )
    ).json()
    assert [f["line"] for f in junos["findings"] if f["rule"] == "junos-telnet-service-off"] == [1]
