"""SNMP's BER: the few ASN.1 types SNMP uses (RFC 3416, RFC 2578), encoded and decoded fast.

Values come back as plain Python types: int (INTEGER), an int subclass naming the SMI type
(Counter32, Gauge32, TimeTicks, Counter64), bytes (OCTET STRING, IpAddress, Opaque), an OID
value as b".1.3.6…", and None for NULL, noSuchObject, noSuchInstance and endOfMibView.
Anything that does not fit the encoding is a `BerError`, a DeviceProtocolError: an agent's
malformed answer fails that device's request, never the poller.

Decoding is the hot path of every poll: the varbind loop reads lengths inline and decodes each
distinct OID once (a bounded cache of encoded OID to dotted text), which is what makes it several
times faster than a general ASN.1 library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genosd.errors import DeviceProtocolError

# universal and SMI application tags
INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, NSAP = 0x40, 0x41, 0x42, 0x43, 0x44, 0x45
COUNTER64, UINTEGER32 = 0x46, 0x47
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
# PDU tags
GET, GET_NEXT, RESPONSE, SET, TRAP_V1, GET_BULK, INFORM, TRAP_V2, REPORT = range(0xA0, 0xA9)
PDU_NAMES = {
    GET: "get",
    GET_NEXT: "getnext",
    RESPONSE: "response",
    SET: "set",
    TRAP_V1: "trap",
    GET_BULK: "getbulk",
    INFORM: "inform",
    TRAP_V2: "trap",
    REPORT: "report",
}

MAX_32 = 0xFFFFFFFF
MAX_64 = 0xFFFFFFFFFFFFFFFF


class BerError(DeviceProtocolError):
    """Bytes that are not a well-formed SNMP message."""


class Counter32(int):
    """A Counter32 value (wraps at 2^32)."""

    __slots__ = ()


class Gauge32(int):
    """A Gauge32 (also Unsigned32) value."""

    __slots__ = ()


class TimeTicks(int):
    """Hundredths of a second."""

    __slots__ = ()


class Counter64(int):
    """A Counter64 value (wraps at 2^64)."""

    __slots__ = ()


class IpAddress(bytes):
    """Four bytes of an IPv4 address."""

    __slots__ = ()


class Opaque(bytes):
    """An Opaque value, left encoded."""

    __slots__ = ()


class ObjectId(str):
    """An OBJECT IDENTIFIER value to encode (dotted, no leading dot)."""

    __slots__ = ()


Value = int | bytes | None
Varbind = tuple[str, Value]  # dotted OID without a leading dot, value

_UNSIGNED: dict[int, type[int]] = {
    COUNTER32: Counter32,
    GAUGE32: Gauge32,
    TIMETICKS: TimeTicks,
    UINTEGER32: Gauge32,
}
_OID_CACHE_SIZE = 100_000
_oid_text: dict[bytes, str] = {}
_oid_bytes: dict[str, bytes] = {}


# --- encoding ---------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, payload: bytes) -> bytes:
    """One tag-length-value."""
    return bytes((tag,)) + _length(len(payload)) + payload


def encode_integer(value: int, tag: int = INTEGER) -> bytes:
    """A signed INTEGER in the fewest two's-complement bytes."""
    size = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def encode_unsigned(value: int, tag: int, limit: int) -> bytes:
    """Counter32/Gauge32/TimeTicks/Counter64: unsigned, encoded as a positive INTEGER."""
    if not 0 <= value <= limit:
        raise ValueError(f"{value} is out of range for tag {tag:#x}")
    return tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's content bytes (cached: requests repeat the same OIDs)."""
    cached = _oid_bytes.get(dotted)
    if cached is not None:
        return cached
    try:
        arcs = [int(arc) for arc in dotted.strip(".").split(".")]
    except ValueError:
        raise ValueError(f"not an OID: {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise ValueError(f"not an OID: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    encoded = bytes(out)
    if len(_oid_bytes) >= _OID_CACHE_SIZE:
        _oid_bytes.clear()
    _oid_bytes[dotted] = encoded
    return encoded


def encode_value(value: object) -> bytes:
    """A varbind value by its Python type (None is NULL, a request's value)."""
    if value is None:
        return b"\x05\x00"
    if isinstance(value, Counter64):
        return encode_unsigned(value, COUNTER64, MAX_64)
    if isinstance(value, Counter32 | Gauge32 | TimeTicks):
        tag = {Counter32: COUNTER32, Gauge32: GAUGE32, TimeTicks: TIMETICKS}[type(value)]
        return encode_unsigned(value, tag, MAX_32)
    if isinstance(value, bool):
        raise ValueError("a bool is not an SNMP value")
    if isinstance(value, int):
        return encode_integer(value)
    if isinstance(value, ObjectId):
        return tlv(OBJECT_IDENTIFIER, encode_oid(value))
    if isinstance(value, IpAddress):
        if len(value) != 4:
            raise ValueError("an IpAddress is four bytes")
        return tlv(IP_ADDRESS, value)
    if isinstance(value, Opaque):
        return tlv(OPAQUE, value)
    if isinstance(value, bytes):
        return tlv(OCTET_STRING, value)
    raise ValueError(f"cannot encode {type(value).__name__} as an SNMP value")


def encode_varbinds(varbinds: list[tuple[str, object]]) -> bytes:
    """A VarBindList."""
    return tlv(
        SEQUENCE,
        b"".join(
            tlv(SEQUENCE, tlv(OBJECT_IDENTIFIER, encode_oid(oid)) + encode_value(value))
            for oid, value in varbinds
        ),
    )


def encode_pdu(tag: int, request_id: int, field1: int, field2: int, varbinds: bytes) -> bytes:
    """A PDU: request-id, error-status (non-repeaters), error-index (max-repetitions), varbinds."""
    return tlv(
        tag,
        encode_integer(request_id) + encode_integer(field1) + encode_integer(field2) + varbinds,
    )


def encode_community_message(version: int, community: bytes, pdu: bytes) -> bytes:
    """An SNMPv1 (version 0) or v2c (version 1) message."""
    return tlv(SEQUENCE, encode_integer(version) + tlv(OCTET_STRING, community) + pdu)


# --- decoding ---------------------------------------------------------------------------------


def read_tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the TLV at `pos`, inside `data[:end]`."""
    if pos + 2 > end:
        raise BerError("truncated message")
    tag = data[pos]
    size = data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise BerError("bad length field")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + size > end:
        raise BerError("a length runs past the end of the message")
    return tag, pos, pos + size


def expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """(start, end) of the value of the TLV at `pos`, which must have `tag`."""
    found, start, stop = read_tlv(data, pos, end)
    if found != tag:
        raise BerError(f"expected tag {tag:#04x}, got {found:#04x}")
    return start, stop


def read_integer(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, position after) of an INTEGER."""
    start, stop = expect(data, pos, end, INTEGER)
    if stop == start or stop - start > 9:
        raise BerError("bad INTEGER length")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def read_octets(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """(value, position after) of an OCTET STRING."""
    start, stop = expect(data, pos, end, OCTET_STRING)
    return data[start:stop], stop


def decode_oid(raw: bytes) -> str:
    """Dotted text of an OBJECT IDENTIFIER's content bytes (cached)."""
    text = _oid_text.get(raw)
    if text is not None:
        return text
    if not raw or raw[-1] & 0x80:
        raise BerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    text = ".".join(map(str, (*head, *arcs[1:])))
    if len(_oid_text) >= _OID_CACHE_SIZE:
        _oid_text.clear()
    _oid_text[bytes(raw)] = text
    return text


def decode_varbinds(data: bytes, pos: int, end: int) -> list[Varbind]:
    """The VarBindList between `pos` and `end` (the SEQUENCE's content)."""
    out: list[Varbind] = []
    append = out.append
    oid_text, unsigned = _oid_text, _UNSIGNED
    while pos < end:
        # each varbind: 30 L (06 L oid) (tag L value); lengths inline for speed
        if data[pos] != SEQUENCE or pos + 2 > end:
            raise BerError("varbind is not a SEQUENCE")
        size = data[pos + 1]
        pos += 2
        if size & 0x80:
            count = size & 0x7F
            if count == 0 or count > 4:
                raise BerError("bad length field")
            size = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        stop = pos + size
        if stop > end or pos + 2 > stop or data[pos] != OBJECT_IDENTIFIER:
            raise BerError("malformed varbind")
        size = data[pos + 1]
        pos += 2
        if size & 0x80:
            count = size & 0x7F
            if count == 0 or count > 4:
                raise BerError("bad length field")
            size = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        raw_oid = data[pos : pos + size]
        oid = oid_text.get(raw_oid) or decode_oid(raw_oid)
        pos += size
        if pos + 2 > stop:
            raise BerError("varbind without a value")
        tag = data[pos]
        size = data[pos + 1]
        pos += 2
        if size & 0x80:
            count = size & 0x7F
            if count == 0 or count > 4:
                raise BerError("bad length field")
            size = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + size != stop:
            raise BerError("varbind value length does not match the varbind")
        raw = data[pos:stop]
        pos = stop
        kind = unsigned.get(tag)
        if kind is not None:
            if size > 5 or (size == 5 and raw[0]):
                raise BerError("32-bit value out of range")
            append((oid, kind.from_bytes(raw, "big")))
        elif tag == OCTET_STRING:
            append((oid, raw))
        elif tag == INTEGER:
            if not size or size > 9:
                raise BerError("bad INTEGER length")
            append((oid, int.from_bytes(raw, "big", signed=True)))
        elif tag == COUNTER64:
            if size > 9 or (size == 9 and raw[0]):
                raise BerError("Counter64 out of range")
            append((oid, Counter64.from_bytes(raw, "big")))
        elif tag in (NULL, NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW):
            append((oid, None))
        elif tag == OBJECT_IDENTIFIER:
            append((oid, b"." + decode_oid(raw).encode()))
        elif tag == IP_ADDRESS:
            if size != 4:
                raise BerError("IpAddress is not four bytes")
            append((oid, IpAddress(raw)))
        elif tag in (OPAQUE, NSAP):
            append((oid, Opaque(raw)))
        else:
            raise BerError(f"unknown value type {tag:#04x}")
    return out


@dataclass(slots=True)
class Pdu:
    """A decoded PDU (for GETBULK the error fields are non-repeaters and max-repetitions)."""

    tag: int
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[Varbind]
    raw_varbinds: bytes = b""  # the VarBindList as received (an inform's answer echoes it)


@dataclass(slots=True)
class TrapV1:
    """An SNMPv1 Trap-PDU (RFC 1157)."""

    enterprise: str
    agent_address: bytes
    generic: int
    specific: int
    uptime: int
    varbinds: list[Varbind] = field(default_factory=list)


def decode_pdu(data: bytes, pos: int, end: int) -> Pdu | TrapV1:
    """The PDU at `pos`."""
    tag, start, stop = read_tlv(data, pos, end)
    if tag == TRAP_V1:
        return _decode_trap_v1(data, start, stop)
    if tag not in PDU_NAMES:
        raise BerError(f"unknown PDU type {tag:#04x}")
    request_id, pos = read_integer(data, start, stop)
    status, pos = read_integer(data, pos, stop)
    index, pos = read_integer(data, pos, stop)
    first, last = expect(data, pos, stop, SEQUENCE)
    return Pdu(tag, request_id, status, index, decode_varbinds(data, first, last), data[pos:last])


def _decode_trap_v1(data: bytes, pos: int, end: int) -> TrapV1:
    start, stop = expect(data, pos, end, OBJECT_IDENTIFIER)
    enterprise = decode_oid(data[start:stop])
    start, pos = expect(data, stop, end, IP_ADDRESS)
    address = data[start:pos]
    generic, pos = read_integer(data, pos, end)
    specific, pos = read_integer(data, pos, end)
    tag, start, stop = read_tlv(data, pos, end)
    if tag != TIMETICKS:
        raise BerError("Trap-PDU time-stamp is not TimeTicks")
    uptime = int.from_bytes(data[start:stop], "big")
    first, last = expect(data, stop, end, SEQUENCE)
    return TrapV1(
        enterprise, address, generic, specific, uptime, decode_varbinds(data, first, last)
    )


def decode_community_message(data: bytes) -> tuple[int, bytes, Pdu | TrapV1]:
    """(version, community, PDU) of an SNMPv1/v2c message."""
    start, stop = expect(data, 0, len(data), SEQUENCE)
    if stop != len(data):
        raise BerError("trailing bytes after the message")
    version, pos = read_integer(data, start, stop)
    community, pos = read_octets(data, pos, stop)
    return version, community, decode_pdu(data, pos, stop)


def message_version(data: bytes) -> int:
    """The version field of a message: 0 (v1), 1 (v2c) or 3."""
    start, stop = expect(data, 0, len(data), SEQUENCE)
    return read_integer(data, start, stop)[0]
