"""SNMPv3 messages (RFC 3412) with USM security parameters (RFC 3414): encode, decode, verify."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from genosd.snmp import ber
from genosd.snmp.ber import OCTET_STRING, SEQUENCE, BerError, tlv
from genosd.snmp.usm import AUTH, Privacy, digest

USM = 3
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
MAX_MESSAGE_SIZE = 65507

USM_STATS = "1.3.6.1.6.3.15.1.1."
REPORT_REASONS = {
    USM_STATS + "1.0": "unsupported security level",
    USM_STATS + "2.0": "not in time window",
    USM_STATS + "3.0": "unknown user name",
    USM_STATS + "4.0": "unknown engine ID",
    USM_STATS + "5.0": "wrong digest (check the auth protocol and key)",
    USM_STATS + "6.0": "decryption error (check the privacy protocol and key)",
    "1.3.6.1.6.3.11.2.1.1.0": "unknown security model",
    "1.3.6.1.6.3.11.2.1.2.0": "invalid message",
    "1.3.6.1.6.3.11.2.1.3.0": "unknown PDU handler",
    "1.3.6.1.6.3.12.1.4.0": "unavailable context",
    "1.3.6.1.6.3.12.1.5.0": "unknown context",
}


@dataclass(slots=True)
class User:
    """A USM user with its keys localized for one engine (no auth: empty keys)."""

    name: bytes
    auth: str | None = None
    auth_key: bytes = b""
    privacy: Privacy | None = None

    @property
    def flags(self) -> int:
        """msgFlags' security level bits."""
        return (FLAG_AUTH if self.auth else 0) | (FLAG_PRIV if self.privacy else 0)


@dataclass(slots=True)
class Message:
    """A decoded SNMPv3 message; `scoped_pdu` is decrypted by `open_scoped_pdu`."""

    data: bytes
    msg_id: int
    max_size: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    auth_params: bytes
    auth_at: int  # where msgAuthenticationParameters' value starts in `data`
    priv_params: bytes
    payload: bytes  # the encrypted PDU (privacy) or the scopedPDU's encoding


def encode(
    msg_id: int,
    flags: int,
    user: User,
    engine_id: bytes,
    boots: int,
    time: int,
    scoped_pdu: bytes,
) -> bytes:
    """An SNMPv3 message, encrypted and signed as the user's security level says."""
    priv_params = b""
    if user.privacy is not None and flags & FLAG_PRIV:
        encrypted, priv_params = user.privacy.encrypt(scoped_pdu, boots, time)
        payload = tlv(OCTET_STRING, encrypted)
    else:
        payload = scoped_pdu
    auth_size = AUTH[user.auth][1] if user.auth and flags & FLAG_AUTH else 0
    head = (
        tlv(OCTET_STRING, engine_id)
        + ber.encode_integer(boots)
        + ber.encode_integer(time)
        + tlv(OCTET_STRING, user.name)
    )
    auth_tlv = tlv(OCTET_STRING, b"\x00" * auth_size)
    inner = head + auth_tlv + tlv(OCTET_STRING, priv_params)
    params = tlv(SEQUENCE, inner)
    header = tlv(
        SEQUENCE,
        ber.encode_integer(msg_id)
        + ber.encode_integer(MAX_MESSAGE_SIZE)
        + tlv(OCTET_STRING, bytes((flags,)))
        + ber.encode_integer(USM),
    )
    before_params = ber.encode_integer(3) + header
    wrapped_params = tlv(OCTET_STRING, params)
    body = before_params + wrapped_params + payload
    message = tlv(SEQUENCE, body)
    if not auth_size:
        return message
    # where the digest goes: after every header in front of it, and the params before it
    at = (
        (len(message) - len(body))
        + len(before_params)
        + (len(wrapped_params) - len(params))
        + (len(params) - len(inner))
        + len(head)
        + (len(auth_tlv) - auth_size)
    )
    signed = digest(user.auth or "", user.auth_key, message)
    return message[:at] + signed + message[at + auth_size :]


def decode(data: bytes) -> Message:
    """An SNMPv3 message's header and security parameters (the PDU stays encoded)."""
    start, stop = ber.expect(data, 0, len(data), SEQUENCE)
    if stop != len(data):
        raise BerError("trailing bytes after the message")
    version, pos = ber.read_integer(data, start, stop)
    if version != 3:
        raise BerError(f"not an SNMPv3 message (version {version})")
    first, pos = ber.expect(data, pos, stop, SEQUENCE)
    msg_id, at = ber.read_integer(data, first, pos)
    max_size, at = ber.read_integer(data, at, pos)
    flag_bytes, at = ber.read_octets(data, at, pos)
    model, at = ber.read_integer(data, at, pos)
    if len(flag_bytes) != 1:
        raise BerError("msgFlags is not one byte")
    if model != USM:
        raise BerError(f"unsupported security model {model}")
    first, after = ber.expect(data, pos, stop, OCTET_STRING)
    first, last = ber.expect(data, first, after, SEQUENCE)
    engine_id, at = ber.read_octets(data, first, last)
    boots, at = ber.read_integer(data, at, last)
    time, at = ber.read_integer(data, at, last)
    user, at = ber.read_octets(data, at, last)
    auth_at, auth_end = ber.expect(data, at, last, OCTET_STRING)
    priv_params, at = ber.read_octets(data, auth_end, last)
    if not (0 <= boots <= 0x7FFFFFFF and 0 <= time <= 0x7FFFFFFF):
        raise BerError("msgAuthoritativeEngineBoots/Time out of range")
    return Message(
        data,
        msg_id,
        max_size,
        flag_bytes[0],
        engine_id,
        boots,
        time,
        user,
        data[auth_at:auth_end],
        auth_at,
        priv_params,
        data[after:stop],
    )


def verify(message: Message, user: User) -> None:
    """Check an authenticated message's digest with the user's key."""
    if not user.auth:
        return
    size = AUTH[user.auth][1]
    if len(message.auth_params) != size:
        raise BerError("msgAuthenticationParameters has the wrong length")
    at, data = message.auth_at, message.data
    blanked = data[:at] + b"\x00" * size + data[at + size :]
    if not hmac.compare_digest(digest(user.auth, user.auth_key, blanked), message.auth_params):
        raise BerError("wrong digest on the answer (authentication failed)")


def open_scoped_pdu(message: Message, user: User | None) -> tuple[bytes, bytes, ber.Pdu]:
    """(contextEngineID, contextName, PDU), decrypting when the message is encrypted."""
    payload = message.payload
    if message.flags & FLAG_PRIV:
        if user is None or user.privacy is None:
            raise BerError("an encrypted message for a user without privacy")
        start, stop = ber.expect(payload, 0, len(payload), OCTET_STRING)
        payload = user.privacy.decrypt(
            payload[start:stop], message.priv_params, message.boots, message.time
        )
    # DES leaves padding after the scopedPDU: its own length says where it ends
    start, stop = ber.expect(payload, 0, len(payload), SEQUENCE)
    context_engine, at = ber.read_octets(payload, start, stop)
    context_name, at = ber.read_octets(payload, at, stop)
    pdu = ber.decode_pdu(payload, at, stop)
    if isinstance(pdu, ber.TrapV1):
        raise BerError("an SNMPv1 Trap-PDU inside an SNMPv3 message")
    return context_engine, context_name, pdu


def scoped_pdu(context_engine: bytes, context_name: bytes, pdu: bytes) -> bytes:
    """A ScopedPDU."""
    return tlv(SEQUENCE, tlv(OCTET_STRING, context_engine) + tlv(OCTET_STRING, context_name) + pdu)
