"""SNMP transport for the poller: sessions on genosd's own engine, and a multi-column walk.

genosd.snmp carries v1, v2c and v3 (USM) with one UDP socket per device; it was chosen over
aiosnmp and pysnmp by measurement (bench/snmp_poll.py, bench/RESULTS.md). Values come back as
plain Python types: int (Counter32/Counter64/Gauge32/TimeTicks subclasses), bytes, or None for
noSuchObject/noSuchInstance/endOfMibView; device trouble is DeviceTimeout / DeviceProtocolError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from genosd.errors import DeviceError, DeviceProtocolError
from genosd.inventory import SnmpTarget
from genosd.settings_sections import SnmpCredential
from genosd.snmp.ber import Value, Varbind
from genosd.snmp.client import Credentials, SnmpClient, TooBig

MAX_WALK_VARBINDS = 200_000  # protects memory from an agent that never ends a table


class SnmpSession(Protocol):
    """What the poller needs from an SNMP client."""

    async def get(self, oids: Sequence[str]) -> list[Varbind]:
        """GET the given instances."""
        ...

    async def get_bulk(self, oids: Sequence[str], max_repetitions: int) -> list[Varbind]:
        """GETBULK (v2c/v3) or GETNEXT (v1) from the given OIDs."""
        ...

    def close(self) -> None:
        """Release the socket."""
        ...


def credentials(target: SnmpTarget) -> Credentials:
    """The engine's view of an inventory credential."""
    return engine_credentials(target.credential, target.version, target.context)


def engine_credentials(
    cred: SnmpCredential, version: Literal["1", "2c", "3"], context: str = ""
) -> Credentials:
    """The engine's view of a settings credential used with `version`."""
    if version != "3":
        assert cred.community is not None
        return Credentials(version, community=cred.community.get_secret_value().encode())
    return Credentials(
        "3",
        user=(cred.username or "").encode(),
        auth=cred.auth_protocol,
        auth_password=cred.auth_key.get_secret_value().encode() if cred.auth_key else b"",
        priv=cred.priv_protocol,
        priv_password=cred.priv_key.get_secret_value().encode() if cred.priv_key else b"",
        context=context.encode(),
    )


class SessionFactory:
    """Builds a session (one UDP socket, opened on first use) per target."""

    def open(self, target: SnmpTarget) -> SnmpSession:
        """A session for this target (not yet connected: the first request connects)."""
        return SnmpClient(
            target.address, target.port, credentials(target), target.timeout, target.retries
        )

    def close(self) -> None:
        """Nothing shared to release: each session owns its socket."""


def _index_key(index: str) -> tuple[int, ...]:
    return tuple(map(int, index.split(".")))


async def walk_columns(
    session: SnmpSession, columns: Sequence[str], max_repetitions: int
) -> dict[str, dict[str, Value]]:
    """Walk several table columns in lock-step with GETBULK: {column: {index: value}}.

    Columns that end (leave their subtree or hit endOfMibView) drop out of the next request; an
    agent answering tooBig is asked again for half as many rows.
    An agent that returns OIDs that do not increase is a protocol error, not an endless loop.
    """
    result: dict[str, dict[str, Value]] = {column: {} for column in columns}
    cursor = {column: column for column in columns}
    last_index: dict[str, tuple[int, ...]] = {column: () for column in columns}
    active = list(columns)
    seen = 0
    while active:
        try:
            varbinds = await session.get_bulk([cursor[c] for c in active], max_repetitions)
        except TooBig:
            if max_repetitions == 1:
                raise
            max_repetitions //= 2  # the answer did not fit one message: ask for less
            continue
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
