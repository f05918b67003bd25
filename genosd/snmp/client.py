"""An asyncio SNMP client: one connected UDP socket per agent; v1, v2c and v3 (USM).

Requests are matched to answers by request-id (v1/v2c) or msgID (v3); a retry re-sends under the
same id, so a late answer to the first try still counts. SNMPv3 discovers the agent's engine ID,
boots and time on first use (RFC 3414 4), localizes the user's keys for it, keeps its clock in step
from authenticated answers and recovers once from a not-in-time-window or unknown-engine report.
Answers that do not decode are counted and named in the error if nothing better arrives: a
malformed or hostile datagram fails one device's request, never the poller.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from genosd.errors import DeviceProtocolError, DeviceTimeout
from genosd.snmp import ber, v3
from genosd.snmp.ber import GET, GET_BULK, GET_NEXT, REPORT, RESPONSE, BerError, Pdu, Varbind
from genosd.snmp.usm import Privacy, localized_keys

ERROR_STATUS = [
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
]
TOO_BIG, NO_SUCH_NAME = 1, 2


class TooBig(DeviceProtocolError):
    """The agent's answer would not fit in one message: ask for fewer values."""


@dataclass(frozen=True)
class Credentials:
    """How to talk to an agent: a community (v1/v2c) or a USM user (v3)."""

    version: Literal["1", "2c", "3"]
    community: bytes = b""
    user: bytes = b""
    auth: str | None = None
    auth_password: bytes = b""
    priv: str | None = None
    priv_password: bytes = b""
    context: bytes = b""


@dataclass(slots=True)
class _Engine:
    """What the client knows of the agent's SNMPv3 engine."""

    engine_id: bytes
    boots: int
    time: int
    synced_at: float  # monotonic time of `time`

    def now(self) -> int:
        return min(self.time + int(time.monotonic() - self.synced_at), 0x7FFFFFFF)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: SnmpClient):
        self.client = client

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.client._received(data)

    def error_received(self, exc: Exception) -> None:
        self.client._refused = str(exc) or type(exc).__name__


class SnmpClient:
    """Requests to one agent over one UDP socket, opened on first use."""

    def __init__(
        self, host: str, port: int, credentials: Credentials, timeout: float, retries: int
    ):
        self.host, self.port = host, port
        self.credentials = credentials
        self.timeout, self.retries = timeout, retries
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: dict[int, asyncio.Future[bytes | Pdu]] = {}
        self._next_id = int.from_bytes(os.urandom(4), "big") & 0x3FFFFFFF
        self._undecodable = 0
        self._last_garbage = ""
        self._refused: str | None = None
        self._engine: _Engine | None = None
        self._user: v3.User | None = None
        self._opening: asyncio.Lock | None = None

    # --- public requests ---------------------------------------------------------------------

    async def get(self, oids: Sequence[str]) -> list[Varbind]:
        """GET the given instances (absent ones come back as None)."""
        return await self._values(GET, oids)

    async def get_next(self, oids: Sequence[str]) -> list[Varbind]:
        """GETNEXT from the given OIDs (past the end of the MIB: None)."""
        return await self._values(GET_NEXT, oids)

    async def get_bulk(
        self, oids: Sequence[str], max_repetitions: int, non_repeaters: int = 0
    ) -> list[Varbind]:
        """GETBULK (v2c/v3) from the given OIDs; on SNMPv1, one GETNEXT."""
        if self.credentials.version == "1":
            return await self.get_next(oids)
        pdu = await self.request(GET_BULK, oids, non_repeaters, max_repetitions)
        self._raise_for_status(pdu)
        return pdu.varbinds

    def close(self) -> None:
        """Release the socket; requests in flight fail."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(DeviceTimeout("SNMP client closed"))
        self._pending.clear()

    async def _values(self, tag: int, oids: Sequence[str]) -> list[Varbind]:
        if self.credentials.version != "1":
            pdu = await self.request(tag, oids, 0, 0)
            self._raise_for_status(pdu)
            return pdu.varbinds
        # SNMPv1 has no noSuchObject: noSuchName names one failed varbind; ask again without it
        wanted, answers = list(oids), dict[str, Varbind]()
        while wanted:
            pdu = await self.request(tag, wanted, 0, 0)
            if pdu.error_status == NO_SUCH_NAME and 1 <= pdu.error_index <= len(wanted):
                failed = wanted.pop(pdu.error_index - 1)
                answers[failed] = (failed, None)
                continue
            self._raise_for_status(pdu)
            if len(pdu.varbinds) != len(wanted):
                raise DeviceProtocolError("SNMPv1 answer with the wrong number of varbinds")
            answers.update(zip(wanted, pdu.varbinds, strict=True))
            break
        return [answers[oid] for oid in oids]

    @staticmethod
    def _raise_for_status(pdu: Pdu) -> None:
        if not pdu.error_status:
            return
        name = (
            ERROR_STATUS[pdu.error_status]
            if pdu.error_status < len(ERROR_STATUS)
            else str(pdu.error_status)
        )
        error = TooBig if pdu.error_status == TOO_BIG else DeviceProtocolError
        raise error(f"agent returned error {name} (index {pdu.error_index})")

    # --- the exchange ------------------------------------------------------------------------

    async def request(self, tag: int, oids: Sequence[str], field1: int, field2: int) -> Pdu:
        """Send one PDU and return the agent's answer (retries and SNMPv3 recovery included)."""
        await self._open()
        try:
            varbinds = ber.encode_varbinds([(oid, None) for oid in oids])
        except ValueError as exc:
            raise DeviceProtocolError(str(exc)) from None
        if self.credentials.version != "3":
            return await self._community_request(tag, varbinds, field1, field2)
        recovered = False
        while True:
            try:
                return await self._v3_request(tag, varbinds, field1, field2)
            except _Resync as exc:
                if recovered:
                    raise DeviceProtocolError(f"SNMPv3: {exc.reason}") from None
                recovered = True
                if exc.rediscover:
                    self._engine = None

    async def _open(self) -> None:
        if self._transport is not None:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._transport is None:
                loop = asyncio.get_running_loop()
                try:
                    transport, _ = await loop.create_datagram_endpoint(
                        lambda: _Protocol(self), remote_addr=(self.host, self.port)
                    )
                except OSError as exc:
                    raise DeviceTimeout(f"SNMP transport: {exc}") from exc
                self._transport = transport

    def _new_id(self) -> int:
        self._next_id = (self._next_id + 1) & 0x7FFFFFFF
        return self._next_id

    async def _exchange(self, key: int, make: Callable[[], bytes]) -> bytes | Pdu:
        """Send `make()` under `key` until an answer arrives or the retries run out."""
        loop = asyncio.get_running_loop()
        garbage_before = self._undecodable
        self._refused = None
        try:
            for _ in range(self.retries + 1):
                future: asyncio.Future[bytes | Pdu] = loop.create_future()
                self._pending[key] = future
                if self._transport is None:
                    raise DeviceTimeout("SNMP client closed")
                self._transport.sendto(make())
                timer = loop.call_later(self.timeout, _expire, future)
                try:
                    return await future
                except TimeoutError:
                    continue
                finally:
                    timer.cancel()
        finally:
            self._pending.pop(key, None)
        if self._undecodable > garbage_before:
            raise DeviceProtocolError(f"undecodable SNMP answer: {self._last_garbage}")
        if self._refused:
            raise DeviceTimeout(f"no SNMP response ({self._refused})")
        raise DeviceTimeout("no SNMP response")

    def _received(self, data: bytes) -> None:
        try:
            if self.credentials.version == "3":
                message = v3.decode(data)
                key: int = message.msg_id
                answer: bytes | Pdu = data
            else:
                version, community, pdu = ber.decode_community_message(data)
                if not isinstance(pdu, Pdu) or pdu.tag != RESPONSE:
                    raise BerError("not a Response-PDU")
                if version != (0 if self.credentials.version == "1" else 1):
                    raise BerError(f"answer in another SNMP version ({version})")
                if community != self.credentials.community:
                    raise BerError("answer with another community")
                key, answer = pdu.request_id, pdu
        except (BerError, IndexError, ValueError) as exc:
            self._undecodable += 1
            self._last_garbage = str(exc)[:200]
            return
        future = self._pending.get(key)
        if future is not None and not future.done():
            future.set_result(answer)

    async def _community_request(self, tag: int, varbinds: bytes, field1: int, field2: int) -> Pdu:
        request_id = self._new_id()
        version = 0 if self.credentials.version == "1" else 1
        message = ber.encode_community_message(
            version,
            self.credentials.community,
            ber.encode_pdu(tag, request_id, field1, field2, varbinds),
        )
        answer = await self._exchange(request_id, lambda: message)
        assert isinstance(answer, Pdu)
        return answer

    # --- SNMPv3 ------------------------------------------------------------------------------

    async def _discover(self) -> _Engine:
        """RFC 3414 4: learn the agent's engine ID (and boots/time) from its report."""
        msg_id = self._new_id()
        empty = ber.encode_pdu(GET, self._new_id(), 0, 0, ber.tlv(ber.SEQUENCE, b""))
        probe = v3.encode(
            msg_id, v3.FLAG_REPORTABLE, v3.User(b""), b"", 0, 0, v3.scoped_pdu(b"", b"", empty)
        )
        answer = await self._exchange(msg_id, lambda: probe)
        assert isinstance(answer, bytes)
        message = v3.decode(answer)
        if not message.engine_id:
            raise DeviceProtocolError("SNMPv3 discovery: the agent sent no engine ID")
        engine = _Engine(message.engine_id, message.boots, message.time, time.monotonic())
        self._user = self._make_user(engine.engine_id)
        return engine

    def _make_user(self, engine_id: bytes) -> v3.User:
        c = self.credentials
        if c.auth is None:
            return v3.User(c.user)
        auth_key, priv_key = localized_keys(
            c.auth, c.auth_password, c.priv, c.priv_password, engine_id
        )
        privacy = Privacy(c.priv, priv_key) if c.priv else None
        return v3.User(c.user, c.auth, auth_key, privacy)

    async def _v3_request(self, tag: int, varbinds: bytes, field1: int, field2: int) -> Pdu:
        if self._engine is None:
            self._engine = await self._discover()
        engine, user = self._engine, self._user
        assert user is not None
        msg_id, request_id = self._new_id(), self._new_id()
        scoped = v3.scoped_pdu(
            engine.engine_id,
            self.credentials.context,
            ber.encode_pdu(tag, request_id, field1, field2, varbinds),
        )
        flags = user.flags | v3.FLAG_REPORTABLE

        def make() -> bytes:
            return v3.encode(
                msg_id, flags, user, engine.engine_id, engine.boots, engine.now(), scoped
            )

        answer = await self._exchange(msg_id, make)
        assert isinstance(answer, bytes)
        message = v3.decode(answer)
        if message.flags & v3.FLAG_AUTH:
            if message.user != user.name:
                raise DeviceProtocolError("SNMPv3 answer for another user")
            v3.verify(message, user)
            if (message.boots, message.time) > (engine.boots, engine.now()):
                engine.boots, engine.time = message.boots, message.time
                engine.synced_at = time.monotonic()
        _, _, pdu = v3.open_scoped_pdu(message, user)
        if pdu.tag == REPORT:
            reason = next(
                (v3.REPORT_REASONS[oid] for oid, _ in pdu.varbinds if oid in v3.REPORT_REASONS),
                "report " + ", ".join(oid for oid, _ in pdu.varbinds),
            )
            if reason == "not in time window" and message.flags & v3.FLAG_AUTH:
                engine.boots, engine.time = message.boots, message.time
                engine.synced_at = time.monotonic()
                raise _Resync(reason, rediscover=False)
            if reason == "unknown engine ID":
                raise _Resync(reason, rediscover=True)
            raise DeviceProtocolError(f"SNMPv3: {reason}")
        if pdu.tag != RESPONSE:
            raise DeviceProtocolError("SNMPv3 answer is not a Response-PDU")
        if user.auth and not message.flags & v3.FLAG_AUTH:
            raise DeviceProtocolError("SNMPv3 answer without authentication")
        if pdu.request_id != request_id:
            raise DeviceProtocolError("SNMPv3 answer for another request")
        return pdu


class _Resync(Exception):
    def __init__(self, reason: str, *, rediscover: bool):
        super().__init__(reason)
        self.reason = reason
        self.rediscover = rediscover


def _expire(future: asyncio.Future[bytes | Pdu]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
