"""The daemon's aiohttp app on a real loopback socket, with a state dir and keys per test."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from genosd.api.app import create_app
from genosd.app.runtime import build_runtime
from genosd.app.snapshot import Sources
from genosd.auth.keys import Role, create_key, revoke_key
from genosd.statedb import connect, state_db_path


def write_setup(
    tmp_path: Path, snmp_port: int, extra: str = "", secrets: dict[str, str] | None = None
) -> Path:
    """Settings and a two-device inventory (one reachable snmpd, one not) under tmp_path."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text(
        f"""sw1:
  hostname: 127.0.0.1
  platform: ios
  groups: [access]
  data: {{tags: [lab, floor1], site: fra1, snmp: {{port: {snmp_port}}}}}
r1:
  hostname: 127.0.0.1
  platform: junos
  groups: [core]
  data: {{tags: [lab], site: ams1, snmp: {{port: 9, timeout: 0.2, retries: 0}}}}
"""
    )
    (inventory / "groups.yaml").write_text("access: {}\ncore: {}\n")
    (inventory / "defaults.yaml").write_text(
        "data:\n  snmp: {version: '2c', credential: ro, interval: 3600}\n"
    )
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    for name, value in {"credentials__ro__community": "public\n", **(secrets or {})}.items():
        (secrets_dir / name).write_text(value)
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n"
        f"secrets_dir: {secrets_dir}\n{extra}"
    )
    return config


class Keys:
    """Creates keys straight in the state database, as `genosd keys create` does."""

    def __init__(self, state_dir: Path):
        self.db = connect(state_db_path(state_dir))

    def make(self, role: Role, *, expires_in: float | None = None, revoked: bool = False) -> str:
        new = create_key(
            self.db, name=f"test-{role.value}", role=role, created_by="test", expires_in=expires_in
        )
        if revoked:
            revoke_key(self.db, new.key.prefix, actor="test")
        return new.secret

    def expired(self, role: Role) -> str:
        secret = self.make(role, expires_in=0.05)
        time.sleep(0.1)
        return secret


@pytest.fixture
async def api(tmp_path: Path, snmpd: int) -> AsyncIterator[Callable[..., object]]:
    """A factory: `await api(extra_settings)` -> (client, Keys)."""
    clients: list[TestClient] = []

    async def start(
        extra: str = "", secrets: dict[str, str] | None = None
    ) -> tuple[TestClient, Keys]:
        config = write_setup(tmp_path, snmpd, extra, secrets)
        state = build_runtime(Sources(config))
        client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client, Keys(state.core.settings.state_dir)

    yield start
    for client in clients:
        await client.close()
