"""The spec says what the server answers: parameter types, 409 for unmanaged devices, 413, codes."""

from __future__ import annotations

from pathlib import Path

from genosd.auth.keys import Role


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_path_ids_are_integers_and_every_error_code_is_declared(api):
    client, keys = await api()
    spec = await (await client.get("/api/v1/openapi.json")).json()
    [param] = spec["paths"]["/api/v1/approvals/{id}"]["get"]["parameters"]
    assert param["schema"]["type"] == "integer"
    assert all(":" not in path for path in spec["paths"])  # no aiohttp regex leaks into the spec
    codes = spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]
    assert {"payload_too_large", "conflict", "method_not_allowed", "unavailable"} <= set(codes)

    operator = keys.make(Role.operator)
    backup = spec["paths"]["/api/v1/configs/backup"]["post"]
    assert "413" in backup["responses"]
    huge = await client.post(
        "/api/v1/configs/backup",
        data=b'{"names": ["' + b"x" * 2_000_000 + b'"]}',
        headers={**_auth(operator), "Content-Type": "application/json"},
    )
    body = await huge.json()
    assert huge.status == 413 and body["error"]["code"] == "payload_too_large"
    assert body["error"]["code"] in codes
    wrong_method = await client.put("/api/v1/devices", headers=_auth(operator))
    assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"


async def test_a_device_without_ssh_or_snmp_is_a_409_naming_what_is_missing(api, tmp_path: Path):
    client, keys = await api()
    admin = keys.make(Role.admin)
    spec = await (await client.get("/api/v1/openapi.json")).json()
    hosts = tmp_path / "inventory" / "hosts.yaml"
    hosts.write_text(
        hosts.read_text() + "ssh1:\n  hostname: 127.0.0.2\n  platform: eos\n"
        "  data: {snmp: {enabled: false}, ssh: {credential: lab}}\n"
    )
    (tmp_path / "secrets" / "ssh_credentials__lab__password").write_text("pw")
    with open(tmp_path / "genosd.yaml", "a") as config:
        config.write("ssh_credentials: {lab: {username: admin}}\n")
    reloaded = await client.post("/api/v1/system/reload", headers=_auth(admin))
    assert reloaded.status == 200, await reloaded.text()

    for method, path, missing, setting in [
        ("post", "/api/v1/devices/sw1/plan", "SSH", "data.ssh.credential"),
        ("post", "/api/v1/devices/sw1/facts", "SSH", "data.ssh.credential"),
        ("post", "/api/v1/devices/ssh1/poll", "SNMP", "data.snmp.credential"),
    ]:
        answer = await client.request(method, path, headers=_auth(admin))
        error = (await answer.json())["error"]
        assert answer.status == 409, (path, error)
        assert error["code"] == "conflict"
        assert f"no {missing} settings" in error["message"] and setting in error["message"]
        declared = spec["paths"][path.replace("sw1", "{name}").replace("ssh1", "{name}")]
        assert "409" in declared[method]["responses"], path


async def test_settings_mask_secrets_only(api):
    client, keys = await api(
        "ssh: {host_key_policy: strict, mask_secrets: true}\n"
        "plugins: {notes: {key_rotation_days: 30, title: lab}}\n",
        secrets={"plugins__notes__api_token": "abc123abc"},
    )
    admin = keys.make(Role.admin)
    settings = (await (await client.get("/api/v1/system/settings", headers=_auth(admin))).json())[
        "settings"
    ]
    assert settings["ssh"]["host_key_policy"] == "strict"
    assert settings["ssh"]["mask_secrets"] is True
    assert settings["credentials"]["ro"]["community"] == "**********"
    assert settings["plugins"]["notes"]["api_token"] == "**********"
    assert settings["plugins"]["notes"]["title"] == "lab"
    assert settings["plugins"]["notes"]["key_rotation_days"] == 30
    assert "abc123abc" not in str(settings)


async def test_error_bodies_name_no_absolute_paths(api, tmp_path: Path):
    client, keys = await api("configs: {templates_dir: " + str(tmp_path / "tpl") + "}\n")
    viewer = keys.make(Role.viewer)
    (tmp_path / "tpl" / "ios").mkdir(parents=True)
    (tmp_path / "tpl" / "ios" / "base.j2").write_text("hostname {{ name }\n")
    answer = await client.get("/api/v1/devices/sw1/intended", headers=_auth(viewer))
    error = (await answer.json())["error"]
    assert answer.status == 422, error
    assert "ios/base.j2:1" in error["message"]
    assert str(tmp_path) not in str(error)
