"""Receiving SNMP notifications: v1 traps, v2c/v3 traps and informs (RFC 3416, RFC 3414, RFC 3584).

`Receiver.receive(datagram)` returns the decoded `Notification` and, for an inform or an SNMPv3
discovery probe, the datagram to answer with. It owns no socket (genosd.app.traps does), so every
decision here is a pure function of the bytes, the configured communities and users, and this
receiver's SNMPv3 engine (ID, boots, time).

SNMPv3: a trap's sender is the authoritative engine, so the user's keys are localized for the
engine ID the trap carries (no engine IDs to configure per device, as net-snmp's snmptrapd needs);
an inform's receiver is authoritative, so senders discover this receiver's engine ID with a probe
that is answered with an unknownEngineID report, and informs outside the 150 s time window are
answered with a notInTimeWindow report carrying this engine's time.
"""

from __future__ import annotations

import hmac
import os
import time
from dataclasses import dataclass, field

from genosd.snmp import ber, v3
from genosd.snmp.ber import INFORM, REPORT, RESPONSE, TRAP_V2, BerError, Pdu, TrapV1, Varbind
from genosd.snmp.usm import Privacy, localized_keys

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ENTERPRISE = "1.3.6.1.6.3.1.1.4.3.0"
GENERIC_TRAPS = "1.3.6.1.6.3.1.1.5."  # RFC 3584 3.1: generic-trap n is snmpTraps.(n + 1)
TIME_WINDOW = 150


class Rejected(Exception):
    """A datagram that is not accepted; `reason` is a short label for counting."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class UserSecret:
    """A USM user allowed to send notifications, with its passwords."""

    name: bytes
    auth: str | None = None
    auth_password: bytes = b""
    priv: str | None = None
    priv_password: bytes = b""


@dataclass
class Notification:
    """A received trap or inform, in SNMPv2 form (v1 traps converted as RFC 3584 says)."""

    version: str  # "1", "2c" or "3"
    kind: str  # "trap" or "inform"
    trap_oid: str
    uptime: int | None
    varbinds: list[Varbind]  # without sysUpTime.0 and snmpTrapOID.0
    security_name: (
        str  # the community's credential name is not known here: the user, or "community"
    )
    engine_id: bytes = b""
    context: bytes = b""
    agent_address: bytes = b""  # SNMPv1: the agent-addr field
    extra: dict[str, object] = field(default_factory=dict)


class Receiver:
    """Decides what a received datagram is, and what (if anything) to answer."""

    def __init__(
        self,
        communities: set[bytes],
        users: dict[bytes, UserSecret],
        engine_id: bytes | None = None,
        boots: int = 1,
    ):
        self.communities = communities
        self.users = users
        # RFC 3411 format 5 (octets): enterprise 0 (reserved for local use) is not used; a random
        # engine ID per start is enough, since only informs need it and senders discover it
        self.engine_id = engine_id or bytes.fromhex("80000000") + b"\x05" + os.urandom(8)
        self.boots = boots
        self._started = time.monotonic()

    def engine_time(self) -> int:
        """Seconds since this engine started."""
        return int(time.monotonic() - self._started)

    def receive(self, data: bytes) -> tuple[Notification | None, bytes | None]:
        """(notification, answer) of one datagram; Rejected or BerError when it is not one."""
        version = ber.message_version(data)
        if version in (0, 1):
            return self._community(data)
        if version == 3:
            return self._usm(data)
        raise Rejected("bad version", str(version))

    # --- v1 / v2c --------------------------------------------------------------------------

    def _community(self, data: bytes) -> tuple[Notification | None, bytes | None]:
        version, community, pdu = ber.decode_community_message(data)
        if not any(hmac.compare_digest(community, known) for known in self.communities):
            raise Rejected("unknown community")
        name = "1" if version == 0 else "2c"
        if isinstance(pdu, TrapV1):
            if version != 0:
                raise Rejected("bad pdu", "an SNMPv1 Trap-PDU in an SNMPv2c message")
            return _from_v1(pdu), None
        notification = _from_v2(pdu, name, "community")
        if pdu.tag != INFORM:
            return notification, None
        answer = ber.encode_community_message(
            version, community, _response(pdu.request_id, pdu.raw_varbinds)
        )
        return notification, answer

    # --- v3 ----------------------------------------------------------------------------------

    def _usm(self, data: bytes) -> tuple[Notification | None, bytes | None]:
        message = v3.decode(data)
        reportable = bool(message.flags & v3.FLAG_REPORTABLE)
        if not message.engine_id:  # a discovery probe (RFC 3414 4): tell our engine ID
            if not reportable:
                raise Rejected("discovery probe", "not reportable")
            return None, self._report(message, "4.0", None)
        secret = self.users.get(message.user)
        if secret is None:
            answer = self._report(message, "3.0", None) if reportable else None
            raise _RejectedWithAnswer("unknown user", answer)
        user = _user(secret, message.engine_id)
        if (message.flags & v3.FLAG_AUTH) != (v3.FLAG_AUTH if user.auth else 0) or (
            message.flags & v3.FLAG_PRIV
        ) != (v3.FLAG_PRIV if user.privacy else 0):
            raise Rejected("wrong security level", message.user.decode(errors="replace"))
        try:
            v3.verify(message, user)
        except BerError:
            raise Rejected("wrong digest", message.user.decode(errors="replace")) from None
        ours = message.engine_id == self.engine_id
        if ours and user.auth and not self._in_window(message):
            answer = self._report(message, "2.0", user) if reportable else None
            raise _RejectedWithAnswer("not in time window", answer)
        try:
            context_engine, context, pdu = v3.open_scoped_pdu(message, user)
        except BerError as exc:
            raise Rejected("decryption error", str(exc)) from None
        if pdu.tag not in (TRAP_V2, INFORM):
            raise Rejected("bad pdu", f"{ber.PDU_NAMES.get(pdu.tag, hex(pdu.tag))} to a receiver")
        if pdu.tag == INFORM and not ours:
            answer = self._report(message, "4.0", None) if reportable else None
            raise _RejectedWithAnswer("unknown engine id", answer)
        notification = _from_v2(pdu, "3", message.user.decode(errors="replace"))
        notification.engine_id, notification.context = message.engine_id, context
        if pdu.tag != INFORM:
            return notification, None
        scoped = v3.scoped_pdu(context_engine, context, _response(pdu.request_id, pdu.raw_varbinds))
        answer = v3.encode(
            message.msg_id,
            message.flags & ~v3.FLAG_REPORTABLE,
            user,
            self.engine_id,
            self.boots,
            self.engine_time(),
            scoped,
        )
        return notification, answer

    def _in_window(self, message: v3.Message) -> bool:
        return message.boots == self.boots and abs(message.time - self.engine_time()) <= TIME_WINDOW

    def _report(self, message: v3.Message, counter: str, user: v3.User | None) -> bytes:
        """A Report-PDU with one usmStats counter, from this (authoritative) engine."""
        varbinds = ber.encode_varbinds([(v3.USM_STATS + counter, ber.Counter32(1))])
        request_id = _request_id(message, user)
        pdu = ber.encode_pdu(REPORT, request_id, 0, 0, varbinds)
        flags = 0 if user is None else message.flags & (v3.FLAG_AUTH | v3.FLAG_PRIV)
        return v3.encode(
            message.msg_id,
            flags,
            user or v3.User(message.user),
            self.engine_id,
            self.boots,
            self.engine_time(),
            v3.scoped_pdu(self.engine_id, b"", pdu),
        )


class _RejectedWithAnswer(Rejected):
    """Rejected, with a report to send back."""

    def __init__(self, reason: str, answer: bytes | None):
        super().__init__(reason)
        self.answer = answer


def answer_of(exc: Rejected) -> bytes | None:
    """The report a rejected datagram still gets answered with, if any."""
    return exc.answer if isinstance(exc, _RejectedWithAnswer) else None


def _request_id(message: v3.Message, user: v3.User | None) -> int:
    """The request-id of the PDU being reported on, when it can be read (else 0)."""
    try:
        return v3.open_scoped_pdu(message, user)[2].request_id
    except (BerError, ValueError):
        return 0


def _user(secret: UserSecret, engine_id: bytes) -> v3.User:
    if secret.auth is None:
        return v3.User(secret.name)
    auth_key, priv_key = localized_keys(
        secret.auth, secret.auth_password, secret.priv, secret.priv_password, engine_id
    )
    return v3.User(
        secret.name, secret.auth, auth_key, Privacy(secret.priv, priv_key) if secret.priv else None
    )


def _response(request_id: int, raw_varbinds: bytes) -> bytes:
    """An inform's acknowledgement: a Response-PDU with the same request-id and varbinds."""
    return ber.tlv(
        RESPONSE,
        ber.encode_integer(request_id)
        + ber.encode_integer(0)
        + ber.encode_integer(0)
        + raw_varbinds,
    )


def _from_v2(pdu: Pdu, version: str, security_name: str) -> Notification:
    if pdu.tag not in (TRAP_V2, INFORM):
        raise Rejected("bad pdu", f"{ber.PDU_NAMES.get(pdu.tag, hex(pdu.tag))} to a receiver")
    varbinds = pdu.varbinds
    # RFC 3416 4.2.6: the first two varbinds are sysUpTime.0 and snmpTrapOID.0
    if len(varbinds) < 2 or varbinds[0][0] != SYS_UPTIME or varbinds[1][0] != SNMP_TRAP_OID:
        raise Rejected("bad pdu", "no sysUpTime.0 and snmpTrapOID.0 first")
    uptime, trap_oid = varbinds[0][1], varbinds[1][1]
    if not isinstance(trap_oid, bytes) or not trap_oid.startswith(b"."):
        raise Rejected("bad pdu", "snmpTrapOID.0 is not an OID")
    return Notification(
        version,
        "inform" if pdu.tag == INFORM else "trap",
        trap_oid[1:].decode(),
        uptime if isinstance(uptime, int) else None,
        varbinds[2:],
        security_name,
    )


def _from_v1(pdu: TrapV1) -> Notification:
    """RFC 3584 3.1: an SNMPv1 trap as the SNMPv2 notification it stands for."""
    if 0 <= pdu.generic <= 5:
        trap_oid = GENERIC_TRAPS + str(pdu.generic + 1)
    else:
        trap_oid = f"{pdu.enterprise}.0.{pdu.specific}"
    varbinds = [*pdu.varbinds, (SNMP_TRAP_ENTERPRISE, b"." + pdu.enterprise.encode())]
    return Notification(
        "1",
        "trap",
        trap_oid,
        pdu.uptime,
        varbinds,
        "community",
        agent_address=pdu.agent_address,
        extra={"generic": pdu.generic, "specific": pdu.specific},
    )
