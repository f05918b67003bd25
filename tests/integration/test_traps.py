"""The trap receiver against net-snmp's own senders (snmptrap, snmpinform): v1, v2c, v3 traps and
informs, wrong credentials and garbage; then in the daemon: stored, listed, counted, published."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest

from genosd.snmp.ber import BerError
from genosd.snmp.notifications import Notification, Receiver, Rejected, UserSecret, answer_of
from tests.servers import need

COMMUNITY = b"trap-community"
USER = UserSecret(b"ops", "SHA", b"auth-pass-1234", "AES", b"priv-pass-5678")
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
IF_INDEX, IF_ADMIN, IF_OPER = (
    "1.3.6.1.2.1.2.2.1.1.2",
    "1.3.6.1.2.1.2.2.1.7.2",
    "1.3.6.1.2.1.2.2.1.8.2",
)
LINK_DOWN_VARBINDS = [IF_INDEX, "i", "2", IF_ADMIN, "i", "1", IF_OPER, "i", "2"]
V3 = ["-v3", "-u", "ops", "-l", "authPriv", "-a", "SHA", "-A", "auth-pass-1234"]
V3 += ["-x", "AES", "-X", "priv-pass-5678"]


class _Server(asyncio.DatagramProtocol):
    """A UDP socket that hands each datagram to a Receiver and sends back its answer."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        self.got: asyncio.Queue[Notification] = asyncio.Queue()
        self.rejected: list[str] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            notification, answer = self.receiver.receive(data)
        except Rejected as exc:
            self.rejected.append(exc.reason)
            answer, notification = answer_of(exc), None
        except BerError:
            self.rejected.append("malformed")
            return
        if answer is not None:
            self.transport.sendto(answer, addr)
        if notification is not None:
            self.got.put_nowait(notification)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[_Server, int]]:
    loop = asyncio.get_running_loop()
    server = _Server(Receiver({COMMUNITY}, {USER.name: USER}))
    transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
    yield server, transport.get_extra_info("sockname")[1]
    transport.close()


async def _send(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a net-snmp sender off the event loop (informs wait for our answer)."""
    env = {**os.environ, "MIBS": "", "SNMPCONFPATH": "/nonexistent"}
    return await asyncio.to_thread(
        subprocess.run,
        [need(command), "-t", "1", "-r", "1", *args],
        capture_output=True,
        text=True,
        env=env,
    )


def _values(notification: Notification) -> dict[str, object]:
    return dict(notification.varbinds)


async def test_v2c_trap_and_inform(receiver):
    server, port = receiver
    done = await _send(
        "snmptrap", "-v2c", "-c", COMMUNITY.decode(), f"127.0.0.1:{port}", "", LINK_DOWN,
        *LINK_DOWN_VARBINDS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trap = await asyncio.wait_for(server.got.get(), 5)
    assert (trap.version, trap.kind, trap.trap_oid) == ("2c", "trap", LINK_DOWN)
    assert _values(trap) == {IF_INDEX: 2, IF_ADMIN: 1, IF_OPER: 2}
    assert isinstance(trap.uptime, int)
    # an inform is acknowledged: snmpinform exits 0 only when our Response arrived
    done = await _send(
        "snmpinform", "-v2c", "-c", COMMUNITY.decode(), f"127.0.0.1:{port}", "", LINK_DOWN,
        *LINK_DOWN_VARBINDS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    inform = await asyncio.wait_for(server.got.get(), 5)
    assert (inform.kind, inform.trap_oid, _values(inform)[IF_OPER]) == ("inform", LINK_DOWN, 2)


async def test_v1_trap_in_its_snmpv2_form(receiver):
    server, port = receiver
    done = await _send(
        "snmptrap", "-v1", "-c", COMMUNITY.decode(), f"127.0.0.1:{port}",
        "1.3.6.1.4.1.8072.2.3.1", "10.0.0.7", "2", "0", "", IF_INDEX, "i", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trap = await asyncio.wait_for(server.got.get(), 5)
    assert (trap.version, trap.trap_oid) == ("1", LINK_DOWN)  # generic-trap 2 is linkDown
    assert trap.agent_address == bytes([10, 0, 0, 7])
    assert _values(trap)[IF_INDEX] == 2
    assert _values(trap)["1.3.6.1.6.3.1.1.4.3.0"] == b".1.3.6.1.4.1.8072.2.3.1"
    # an enterprise-specific trap: enterprise.0.specific
    await _send(
        "snmptrap", "-v1", "-c", COMMUNITY.decode(), f"127.0.0.1:{port}",
        "1.3.6.1.4.1.9.9.41.2", "10.0.0.7", "6", "1", "",
    )  # fmt: skip
    trap = await asyncio.wait_for(server.got.get(), 5)
    assert trap.trap_oid == "1.3.6.1.4.1.9.9.41.2.0.1"


async def test_v3_authpriv_trap_and_inform(receiver):
    server, port = receiver
    engine = "0x80001f8880aabbccdd00112233"
    done = await _send(
        "snmptrap", *V3, "-e", engine, f"127.0.0.1:{port}", "", LINK_DOWN, *LINK_DOWN_VARBINDS
    )
    assert done.returncode == 0, done.stderr
    trap = await asyncio.wait_for(server.got.get(), 5)
    assert (trap.version, trap.kind, trap.security_name) == ("3", "trap", "ops")
    assert trap.engine_id == bytes.fromhex(engine[2:])  # the sender's engine: keys localized for it
    assert _values(trap)[IF_OPER] == 2
    # an inform: snmpinform discovers our engine ID, then sends; exit 0 means it got our answer
    done = await _send("snmpinform", *V3, f"127.0.0.1:{port}", "", LINK_DOWN, *LINK_DOWN_VARBINDS)
    assert done.returncode == 0, done.stderr
    inform = await asyncio.wait_for(server.got.get(), 5)
    assert (inform.kind, inform.engine_id) == ("inform", server.receiver.engine_id)


async def test_wrong_credentials_and_garbage_are_refused_and_named(receiver):
    server, port = receiver
    wrong = [
        ("snmptrap", "-v2c", "-c", "guess", f"127.0.0.1:{port}", "", LINK_DOWN),
        ("snmptrap", *[a if a != "auth-pass-1234" else "not-the-pass" for a in V3],
         "-e", "0x8000000001", f"127.0.0.1:{port}", "", LINK_DOWN),
        ("snmptrap", *[a if a != "ops" else "eve" for a in V3],
         "-e", "0x8000000001", f"127.0.0.1:{port}", "", LINK_DOWN),
    ]  # fmt: skip
    for command, *args in wrong:
        await _send(command, *args)
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port)
    )
    sender.sendto(b"\x30\x82\xff\xff garbage")
    sender.close()
    for _ in range(50):
        if len(server.rejected) >= 4:
            break
        await asyncio.sleep(0.1)
    assert server.rejected == ["unknown community", "wrong digest", "unknown user", "malformed"]
    assert server.got.empty()
