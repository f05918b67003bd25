"""genosd's SNMP engine against real agents: net-snmp snmpd for every USM auth/priv combination,
snmpsim (pysnmp's agent) for 3DES, agent restarts, wrong credentials and SNMPv1."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from genosd.collectors.snmp_client import walk_columns
from genosd.errors import DeviceProtocolError, DeviceTimeout
from genosd.snmp.client import Credentials, SnmpClient
from genosd.snmp.usm import AUTH
from tests.servers import snmpsim, start_snmpd

# genosd's name: snmpd's createUser name
NET_SNMP_AUTH = {
    "MD5": "MD5",
    "SHA": "SHA",
    "SHA224": "SHA-224",
    "SHA256": "SHA-256",
    "SHA384": "SHA-384",
    "SHA512": "SHA-512",
}
NET_SNMP_PRIV = {
    None: None,
    "DES": "DES",
    "AES": "AES",
    "AES192": "AES192",
    "AES256": "AES256",
    "AES192C": "AES192C",
    "AES256C": "AES256C",
}
AUTH_PASS, PRIV_PASS = b"auth-pass-1234", b"priv-pass-5678"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"


def _user(auth: str | None, priv: str | None) -> str:
    return f"u-{auth or 'none'}-{priv or 'none'}".lower()


@pytest.fixture(scope="module")
def usm_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """snmpd with a user for every auth x priv combination genosd and net-snmp share."""
    directory = tmp_path_factory.mktemp("snmpd-usm")
    lines = [f"createUser {_user(None, None)}", f"rouser {_user(None, None)} noauth"]
    for auth, net_auth in NET_SNMP_AUTH.items():
        for priv, net_priv in NET_SNMP_PRIV.items():
            name = _user(auth, priv)
            privacy = f' {net_priv} "{PRIV_PASS.decode()}"' if net_priv else ""
            lines.append(f'createUser {name} {net_auth} "{AUTH_PASS.decode()}"{privacy}')
            lines.append(f"rouser {name} {'priv' if priv else 'auth'}")
    process, port = start_snmpd(directory, "\n".join(lines) + "\n")
    yield port, directory
    process.terminate()
    process.wait()


def _walk_v2c(port: int, oid: str) -> list[str]:
    return subprocess.run(
        ["snmpbulkwalk", "-v2c", "-cpublic", "-On", "-Oqv", f"127.0.0.1:{port}", oid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def _v3(port: int, auth: str | None, priv: str | None, **overrides: object) -> SnmpClient:
    fields: dict[str, object] = {
        "user": _user(auth, priv).encode(),
        "auth": auth,
        "auth_password": AUTH_PASS if auth else b"",
        "priv": priv,
        "priv_password": PRIV_PASS if priv else b"",
        **overrides,
    }
    return SnmpClient("127.0.0.1", port, Credentials("3", **fields), 1.0, 1)  # type: ignore[arg-type]


async def test_every_auth_and_privacy_protocol_against_net_snmp(usm_agent):
    port, _ = usm_agent
    names = [value.strip('"') for value in _walk_v2c(port, IF_DESCR)]
    combinations = [(None, None)] + [(a, p) for a in sorted(AUTH) for p in NET_SNMP_PRIV]
    for auth, priv in combinations:
        client = _v3(port, auth, priv)
        try:
            ((oid, value),) = await client.get(["1.3.6.1.2.1.1.5.0"])
            assert oid == "1.3.6.1.2.1.1.5.0" and isinstance(value, bytes) and value, (auth, priv)
            table = await walk_columns(client, [IF_DESCR], 2)  # several requests per walk
            assert [v.decode() for v in table[IF_DESCR].values()] == names, (auth, priv)
        finally:
            client.close()


async def test_wrong_credentials_are_named(usm_agent):
    port, _ = usm_agent
    cases = [
        (_v3(port, "SHA", "AES", auth_password=b"not-the-password"), "wrong digest"),
        (_v3(port, "SHA", "AES", user=b"nobody"), "unknown user name"),
        (_v3(port, "MD5", None, user=_user("SHA", None).encode()), "wrong digest"),
    ]
    for client, reason in cases:
        try:
            with pytest.raises(DeviceProtocolError, match=reason):
                await client.get(["1.3.6.1.2.1.1.5.0"])
        finally:
            client.close()


async def test_a_restarted_agent_and_a_drifted_clock_are_recovered_from(tmp_path: Path):
    user = 'createUser ops SHA "auth-pass-1234" AES "priv-pass-5678"\nrouser ops priv\n'
    process, port = start_snmpd(tmp_path, user)
    credentials = Credentials(
        "3", user=b"ops", auth="SHA", auth_password=AUTH_PASS, priv="AES", priv_password=PRIV_PASS
    )
    client = SnmpClient("127.0.0.1", port, credentials, 1.0, 1)
    try:
        await client.get(["1.3.6.1.2.1.1.5.0"])
        assert client._engine is not None
        first_engine = client._engine.engine_id
        # the client's idea of the agent's clock is off by more than the 150 s window: the agent
        # answers with an authenticated notInTimeWindow report, the client takes its time and
        # asks again
        client._engine.time += 1000
        ((_, value),) = await client.get(["1.3.6.1.2.1.1.5.0"])
        assert value and abs(client._engine.now() - 1000) > 500
        # net-snmp started with -C makes a new engine ID each start: a replaced agent answers
        # unknownEngineID, and the client discovers the new engine and localizes its keys again
        process.terminate()
        process.wait()
        process, _ = start_snmpd(tmp_path, user, port)
        ((_, value),) = await client.get(["1.3.6.1.2.1.1.5.0"])
        assert value and client._engine is not None
        assert client._engine.engine_id != first_engine
    finally:
        client.close()
        process.terminate()
        process.wait()


async def test_snmpv1_gets_and_walks(snmpd):
    client = SnmpClient("127.0.0.1", snmpd, Credentials("1", community=b"public"), 1.0, 1)
    try:
        got = await client.get(["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.3.0"])
        assert [oid for oid, _ in got] == [
            "1.3.6.1.2.1.1.5.0",
            "1.3.6.1.2.1.1.99.0",
            "1.3.6.1.2.1.1.3.0",
        ]
        assert got[0][1] and got[1][1] is None and isinstance(got[2][1], int)
        table = await walk_columns(client, [IF_DESCR], 25)
        assert [v.decode() for v in table[IF_DESCR].values()] == [
            value.strip('"') for value in _walk_v2c(snmpd, IF_DESCR)
        ]
    finally:
        client.close()


async def test_3des_against_pysnmps_agent(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "ctx.snmprec").write_text("1.3.6.1.2.1.1.5.0|4|des3-agent\n")
    credentials = Credentials(
        "3",
        user=b"ops",
        auth="SHA",
        auth_password=AUTH_PASS,
        priv="3DES",
        priv_password=PRIV_PASS,
        context=b"ctx",
    )
    options = (
        "--v3-user=ops",
        f"--v3-auth-key={AUTH_PASS.decode()}",
        "--v3-auth-proto=SHA",
        f"--v3-priv-key={PRIV_PASS.decode()}",
        "--v3-priv-proto=3DES",
    )
    async with snmpsim(data, tmp_path / "cache", *options) as port:
        client = SnmpClient("127.0.0.1", port, credentials, 1.0, 2)
        try:
            for _ in range(40):
                try:
                    got = await client.get(["1.3.6.1.2.1.1.5.0"])
                    break
                except DeviceTimeout:  # the agent is still indexing its data
                    await asyncio.sleep(0.5)
            assert got == [("1.3.6.1.2.1.1.5.0", b"des3-agent")]
        finally:
            client.close()
