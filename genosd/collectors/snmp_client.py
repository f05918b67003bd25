"""SNMP transport: one session protocol, two library backends, one multi-column walk.

aiosnmp (Rust BER codec) carries SNMPv2c, the hot path; pysnmp carries SNMPv3 and v1. The choice
was made by measurement (bench/snmp_poll.py, bench/RESULTS.md). Values come back as plain Python
types: int, bytes, or None for noSuchObject/noSuchInstance/endOfMibView. Library exceptions are
translated here into DeviceTimeout / DeviceProtocolError.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Protocol

import aiosnmp
import aiosnmp.exceptions

from genosd.errors import DeviceError, DeviceProtocolError, DeviceTimeout
from genosd.inventory import SnmpTarget

Value = int | bytes | None
Varbind = tuple[str, Value]  # dotted OID without a leading dot, value

MAX_WALK_VARBINDS = 200_000  # protects memory from an agent that never ends a table


class SnmpSession(Protocol):
    """What the poller needs from an SNMP library."""

    async def get(self, oids: Sequence[str]) -> list[Varbind]:
        """GET the given instances."""
        ...

    async def get_bulk(self, oids: Sequence[str], max_repetitions: int) -> list[Varbind]:
        """GETBULK (v2c/v3) or GETNEXT (v1) from the given OIDs."""
        ...

    def close(self) -> None:
        """Release the socket."""
        ...


def _plain(value: Any) -> Value:
    if value is None or isinstance(value, int | bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, ipaddress.IPv4Address):
        return value.packed
    raise DeviceProtocolError(f"unsupported SNMP value type {type(value).__name__}")


class AiosnmpSession:
    """SNMPv2c over aiosnmp; one UDP socket per device, kept between polls."""

    def __init__(self, target: SnmpTarget):
        assert target.credential.community is not None
        self._snmp = aiosnmp.Snmp(
            host=target.address,
            port=target.port,
            community=target.credential.community.get_secret_value(),
            timeout=target.timeout,
            retries=target.retries + 1,  # aiosnmp counts attempts, not retries
            max_repetitions=target.max_repetitions,
        )

    async def _call(self, coro: Any) -> list[Varbind]:
        try:
            varbinds = await coro
        except aiosnmp.exceptions.SnmpTimeoutError as exc:
            raise DeviceTimeout("no SNMP response") from exc
        except aiosnmp.exceptions.SnmpErrorStatus as exc:
            raise DeviceProtocolError(f"agent returned error: {type(exc).__name__}") from exc
        except (TimeoutError, OSError) as exc:
            raise DeviceTimeout(f"SNMP transport: {exc}") from exc
        except Exception as exc:  # the codec raises plain exceptions on malformed PDUs
            raise DeviceProtocolError(f"undecodable SNMP response: {exc}") from exc
        return [(vb.oid.lstrip("."), _plain(vb.value)) for vb in varbinds]

    async def get(self, oids: Sequence[str]) -> list[Varbind]:
        """GET the given instances."""
        return await self._call(self._snmp.get(list(oids)))

    async def get_bulk(self, oids: Sequence[str], max_repetitions: int) -> list[Varbind]:
        """GETBULK from the given OIDs."""
        return await self._call(self._snmp.get_bulk(list(oids), max_repetitions=max_repetitions))

    def close(self) -> None:
        """Release the socket."""
        self._snmp.close()


class PysnmpSession:
    """SNMPv3 (USM auth/priv) and SNMPv1 over pysnmp's asyncio API."""

    _engine: Any = None

    def __init__(self, target: SnmpTarget, engine: Any):
        from pysnmp.hlapi.v3arch import asyncio as hlapi

        self._hlapi = hlapi
        self._target = target
        self._engine = engine
        cred = target.credential
        if target.version == "3":
            auth = _PYSNMP_AUTH[cred.auth_protocol] if cred.auth_protocol else None
            priv = _PYSNMP_PRIV[cred.priv_protocol] if cred.priv_protocol else None
            self._auth: Any = hlapi.UsmUserData(
                cred.username or "",
                authKey=cred.auth_key.get_secret_value() if cred.auth_key else None,
                privKey=cred.priv_key.get_secret_value() if cred.priv_key else None,
                authProtocol=getattr(hlapi, auth) if auth else hlapi.usmNoAuthProtocol,
                privProtocol=getattr(hlapi, priv) if priv else hlapi.usmNoPrivProtocol,
            )
        else:
            assert cred.community is not None
            self._auth = hlapi.CommunityData(cred.community.get_secret_value(), mpModel=0)
        self._context = hlapi.ContextData(contextName=target.context)
        self._transport: Any = None

    async def _transport_target(self) -> Any:
        if self._transport is None:
            self._transport = await self._hlapi.UdpTransportTarget.create(
                (self._target.address, self._target.port),
                timeout=self._target.timeout,
                retries=self._target.retries,
            )
        return self._transport

    def _check(self, result: tuple[Any, Any, Any, Any]) -> list[Varbind]:
        error_indication, error_status, _error_index, varbinds = result
        if error_indication:
            text = str(error_indication)
            if "timeout" in text.lower() or "no snmp response" in text.lower():
                raise DeviceTimeout(text)
            raise DeviceProtocolError(text)
        if error_status:
            raise DeviceProtocolError(f"agent returned error: {error_status.prettyPrint()}")
        return [(str(oid), _pysnmp_value(value)) for oid, value in varbinds]

    async def get(self, oids: Sequence[str]) -> list[Varbind]:
        """GET the given instances."""
        h = self._hlapi
        target = await self._transport_target()
        result = await h.get_cmd(
            self._engine,
            self._auth,
            target,
            self._context,
            *(h.ObjectType(h.ObjectIdentity(oid)) for oid in oids),
            lookupMib=False,
        )
        return self._check(result)

    async def get_bulk(self, oids: Sequence[str], max_repetitions: int) -> list[Varbind]:
        """GETBULK (v3) or GETNEXT (v1) from the given OIDs."""
        h = self._hlapi
        target = await self._transport_target()
        objects = [h.ObjectType(h.ObjectIdentity(oid)) for oid in oids]
        if self._target.version == "1":
            result = await h.next_cmd(
                self._engine, self._auth, target, self._context, *objects, lookupMib=False
            )
        else:
            result = await h.bulk_cmd(
                self._engine,
                self._auth,
                target,
                self._context,
                0,
                max_repetitions,
                *objects,
                lookupMib=False,
            )
        return self._check(result)

    def close(self) -> None:
        """Nothing to release: pysnmp's engine owns the socket."""


_PYSNMP_AUTH = {
    "MD5": "usmHMACMD5AuthProtocol",
    "SHA": "usmHMACSHAAuthProtocol",
    "SHA224": "usmHMAC128SHA224AuthProtocol",
    "SHA256": "usmHMAC192SHA256AuthProtocol",
    "SHA384": "usmHMAC256SHA384AuthProtocol",
    "SHA512": "usmHMAC384SHA512AuthProtocol",
}
_PYSNMP_PRIV = {
    "DES": "usmDESPrivProtocol",
    "3DES": "usm3DESEDEPrivProtocol",
    "AES": "usmAesCfb128Protocol",
    "AES128": "usmAesCfb128Protocol",
    "AES192": "usmAesCfb192Protocol",
    "AES256": "usmAesCfb256Protocol",
}


def _pysnmp_value(value: Any) -> Value:
    from pyasn1.type import univ
    from pysnmp.proto import rfc1902, rfc1905

    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, rfc1902.OctetString | rfc1902.IpAddress | rfc1902.Opaque):
        return bytes(value)
    if isinstance(value, univ.ObjectIdentifier):
        return b"." + str(value).encode()  # the same form aiosnmp gives
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DeviceProtocolError(f"unsupported SNMP value {value!r}") from exc


class SessionFactory:
    """Builds the right session for a target; owns pysnmp's shared engine."""

    def __init__(self) -> None:
        self._engine: Any = None

    def open(self, target: SnmpTarget) -> SnmpSession:
        """A session for this target (not yet connected: the first request connects)."""
        if target.version == "2c":
            return AiosnmpSession(target)
        if self._engine is None:
            from pysnmp.hlapi.v3arch import asyncio as hlapi

            self._engine = hlapi.SnmpEngine()
        return PysnmpSession(target, self._engine)

    def close(self) -> None:
        """Close pysnmp's engine dispatcher."""
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None


def _index_key(index: str) -> tuple[int, ...]:
    return tuple(map(int, index.split(".")))


async def walk_columns(
    session: SnmpSession, columns: Sequence[str], max_repetitions: int
) -> dict[str, dict[str, Value]]:
    """Walk several table columns in lock-step with GETBULK: {column: {index: value}}.

    Columns that end (leave their subtree or hit endOfMibView) drop out of the next request.
    An agent that returns OIDs that do not increase is a protocol error, not an endless loop.
    """
    result: dict[str, dict[str, Value]] = {column: {} for column in columns}
    cursor = {column: column for column in columns}
    last_index: dict[str, tuple[int, ...]] = {column: () for column in columns}
    active = list(columns)
    seen = 0
    while active:
        varbinds = await session.get_bulk([cursor[c] for c in active], max_repetitions)
        if not varbinds:
            raise DeviceProtocolError("empty GETBULK response")
        finished: set[str] = set()
        for position, (oid, value) in enumerate(varbinds):
            column = active[position % len(active)]
            if column in finished:
                continue
            prefix = column + "."
            if value is None or not oid.startswith(prefix):
                finished.add(column)
                continue
            index = oid[len(prefix) :]
            try:
                key = _index_key(index)
            except ValueError:
                raise DeviceProtocolError(f"agent returned a malformed OID {oid!r}") from None
            # comparing the index alone is enough: both OIDs share the column prefix
            if key <= last_index[column]:
                raise DeviceProtocolError(
                    f"agent returned non-increasing OID {oid} after {cursor[column]}"
                )
            result[column][index] = value
            cursor[column] = oid
            last_index[column] = key
        seen += len(varbinds)
        if seen > MAX_WALK_VARBINDS:
            raise DeviceProtocolError(f"walk exceeded {MAX_WALK_VARBINDS} varbinds")
        active = [c for c in active if c not in finished]
    return result


__all__ = ["DeviceError", "SessionFactory", "SnmpSession", "Value", "Varbind", "walk_columns"]
