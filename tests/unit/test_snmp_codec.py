"""genosd's BER and USM code against pysnmp/pyasn1 as the oracle: round trips, keys, fuzzing."""

from __future__ import annotations

import contextlib
import hashlib

import pysnmp.hlapi.v3arch.asyncio  # noqa: F401 - loads pysnmp in an order free of its import cycle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.proto.secmod.eso.priv import aes192, aes256, des3
from pysnmp.proto.secmod.rfc3414 import localkey
from pysnmp.proto.secmod.rfc3414.auth import hmacmd5, hmacsha
from pysnmp.proto.secmod.rfc7860.auth import hmacsha2

from genosd.snmp import ber, v3
from genosd.snmp.ber import (
    BerError,
    Counter32,
    Counter64,
    Gauge32,
    IpAddress,
    ObjectId,
    TimeTicks,
)
from genosd.snmp.usm import AUTH, PRIV, Privacy, localized_keys, password_to_key

arcs = st.integers(0, 2**32 - 1)
oids = st.builds(
    lambda first, second, rest: ".".join(map(str, (first, second, *rest))),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(arcs, max_size=12),
)
# (what genosd encodes, what pysnmp encodes, what genosd decodes)
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (v, rfc1902.Integer32(v), v)),
    st.binary(max_size=300).map(lambda v: (v, rfc1902.OctetString(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (Counter32(v), rfc1902.Counter32(v), Counter32(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (Gauge32(v), rfc1902.Gauge32(v), Gauge32(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (TimeTicks(v), rfc1902.TimeTicks(v), TimeTicks(v))),
    st.integers(0, 2**64 - 1).map(lambda v: (Counter64(v), rfc1902.Counter64(v), Counter64(v))),
    st.binary(min_size=4, max_size=4).map(
        lambda v: (IpAddress(v), rfc1902.IpAddress(v), IpAddress(v))
    ),
    oids.map(lambda v: (ObjectId(v), rfc1902.ObjectIdentifier(v), b"." + v.encode())),
    st.just((None, rfc1902.Null(""), None)),
)
varbind_lists = st.lists(st.tuples(oids, values), max_size=40)


def _same(got: object, want: object) -> None:
    assert got == want
    assert type(got) is type(want)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(varbinds=varbind_lists, request_id=st.integers(0, 2**31 - 1), community=st.binary())
def test_what_genosd_encodes_pysnmp_decodes(varbinds, request_id, community):
    data = ber.encode_community_message(
        1,
        community,
        ber.encode_pdu(
            ber.RESPONSE, request_id, 0, 0, ber.encode_varbinds([(o, v[0]) for o, v in varbinds])
        ),
    )
    message, rest = decoder.decode(data, asn1Spec=v2c.Message())
    assert not rest
    assert bytes(v2c.apiMessage.get_community(message)) == community
    pdu = v2c.apiMessage.get_pdu(message)
    assert int(v2c.apiPDU.get_request_id(pdu)) == request_id
    decoded = v2c.apiPDU.get_varbinds(pdu)
    assert [str(oid) for oid, _ in decoded] == [oid for oid, _ in varbinds]
    for (_, value), (_, (_, expected, _)) in zip(decoded, varbinds, strict=True):
        assert value == expected
        assert value.tagSet == expected.tagSet


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(varbinds=varbind_lists, request_id=st.integers(0, 2**31 - 1))
def test_what_pysnmp_encodes_genosd_decodes(varbinds, request_id):
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, b"public")
    pdu = v2c.GetResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, [(oid, v[1]) for oid, v in varbinds])
    v2c.apiMessage.set_pdu(message, pdu)
    version, community, decoded = ber.decode_community_message(encoder.encode(message))
    assert (version, community) == (1, b"public")
    assert isinstance(decoded, ber.Pdu)
    assert decoded.request_id == request_id
    assert [oid for oid, _ in decoded.varbinds] == [oid for oid, _ in varbinds]
    for (_, got), (_, (_, _, want)) in zip(decoded.varbinds, varbinds, strict=True):
        _same(got, want)


def test_exception_values_decode_as_none():
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    pdu = v2c.GetResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    exceptions = [rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView]
    v2c.apiPDU.set_varbinds(pdu, [(f"1.3.6.{n}", value) for n, value in enumerate(exceptions)])
    v2c.apiMessage.set_pdu(message, pdu)
    _, _, decoded = ber.decode_community_message(encoder.encode(message))
    assert isinstance(decoded, ber.Pdu)
    assert decoded.varbinds == [("1.3.6.0", None), ("1.3.6.1", None), ("1.3.6.2", None)]


def _valid_message() -> bytes:
    return ber.encode_community_message(
        1,
        b"public",
        ber.encode_pdu(
            ber.RESPONSE,
            7,
            0,
            0,
            ber.encode_varbinds(
                [("1.3.6.1.2.1.1.5.0", b"router"), ("1.3.6.1.2.1.2.2.1.10.1", Counter32(5))]
            ),
        ),
    )


@settings(max_examples=500)
@given(data=st.binary(max_size=200))
def test_random_bytes_are_a_ber_error_or_a_message(data):
    for decode in (ber.decode_community_message, v3.decode):
        with contextlib.suppress(BerError):
            decode(data)


@settings(max_examples=500)
@given(
    cut=st.integers(0, 60),
    position=st.integers(0, 60),
    byte=st.integers(0, 255),
    grow=st.booleans(),
)
def test_damaged_messages_are_a_ber_error_never_a_crash(cut, position, byte, grow):
    data = bytearray(_valid_message())
    data[position % len(data)] = byte
    if grow:
        data += bytes(cut)
    else:
        del data[len(data) - cut % len(data) :]
    with contextlib.suppress(BerError):
        ber.decode_community_message(bytes(data))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x30\x84\xff\xff\xff\xff\x02\x01\x01", "runs past"),  # a length larger than the datagram
        (b"\x30\x80\x02\x01\x01\x00\x00", "bad length"),  # indefinite length is not SNMP
        (b"\x30\x03\x02\x01\xff", "truncated"),  # a version, then nothing
        (b"\x30\x03\x02\x01\xff garbage", "trailing"),  # the test agent's garbage
        (_valid_message() + b"\x00", "trailing"),
    ],
)
def test_hostile_lengths_are_named(data, problem):
    with pytest.raises(BerError, match=problem):
        ber.decode_community_message(data)


def test_a_32_bit_counter_out_of_range_is_refused():
    value = b"\x41\x05\x01\x00\x00\x00\x00"  # 2^32 as a Counter32
    varbind = ber.tlv(ber.SEQUENCE, ber.tlv(ber.OBJECT_IDENTIFIER, ber.encode_oid("1.3.6")) + value)
    with pytest.raises(BerError, match="out of range"):
        ber.decode_varbinds(varbind, 0, len(varbind))


PYSNMP_HASH = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA224": hashlib.sha224,
    "SHA256": hashlib.sha256,
    "SHA384": hashlib.sha384,
    "SHA512": hashlib.sha512,
}
PYSNMP_AUTH_ID = {
    "MD5": hmacmd5.HmacMd5.SERVICE_ID,
    "SHA": hmacsha.HmacSha.SERVICE_ID,
    "SHA224": hmacsha2.HmacSha2.SHA224_SERVICE_ID,
    "SHA256": hmacsha2.HmacSha2.SHA256_SERVICE_ID,
    "SHA384": hmacsha2.HmacSha2.SAH384_SERVICE_ID,  # sic, pysnmp's spelling
    "SHA512": hmacsha2.HmacSha2.SHA512_SERVICE_ID,
}
ENGINE = bytes.fromhex("80001f8880e9630000d61ff449")


@pytest.mark.parametrize("auth", sorted(AUTH))
def test_localized_auth_keys_match_pysnmp(auth):
    ours = localized_keys(auth, b"maplesyrup", None, b"", ENGINE)[0]
    theirs = localkey.password_to_key(b"maplesyrup", univ.OctetString(ENGINE), PYSNMP_HASH[auth])
    assert ours == bytes(theirs)


def test_rfc3414_key_localization_example():
    # RFC 3414 A.3.1 (MD5) and A.3.2 (SHA): password "maplesyrup", engine 00..02
    engine = bytes(11) + b"\x02"
    assert password_to_key(b"maplesyrup", "MD5").hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localized_keys("MD5", b"maplesyrup", None, b"", engine)[0].hex() == (
        "526f5eed9fcce26f8964c2930787d82b"
    )
    assert localized_keys("SHA", b"maplesyrup", None, b"", engine)[0].hex() == (
        "6695febc9288e36282235fc7151f128497b38f3f"
    )


@pytest.mark.parametrize(
    ("priv", "pysnmp_priv"),
    [
        ("AES192", aes192.AesBlumenthal192()),
        ("AES256", aes256.AesBlumenthal256()),
        ("AES192C", aes192.Aes192()),
        ("AES256C", aes256.Aes256()),
        ("3DES", des3.Des3()),
    ],
)
@pytest.mark.parametrize("auth", ["MD5", "SHA", "SHA256"])
def test_extended_privacy_keys_match_pysnmp(auth, priv, pysnmp_priv):
    ours = localized_keys(auth, b"authpass123", priv, b"privpass123", ENGINE)[1]
    ku = pysnmp_priv.hash_passphrase(PYSNMP_AUTH_ID[auth], b"privpass123")
    theirs = pysnmp_priv.localize_key(PYSNMP_AUTH_ID[auth], ku, univ.OctetString(ENGINE))
    assert ours == bytes(theirs)


@pytest.mark.parametrize("priv", [None, *sorted(PRIV)])
@pytest.mark.parametrize("auth", sorted(AUTH))
def test_v3_messages_round_trip_and_tampering_is_caught(auth, priv):
    auth_key, priv_key = localized_keys(auth, b"authpass123", priv, b"privpass123", ENGINE)
    user = v3.User(b"ops", auth, auth_key, Privacy(priv, priv_key) if priv else None)
    varbinds = ber.encode_varbinds([("1.3.6.1.2.1.1.5.0", b"core-1")])
    pdu = ber.encode_pdu(ber.RESPONSE, 42, 0, 0, varbinds)
    flags = user.flags | v3.FLAG_REPORTABLE
    data = v3.encode(9, flags, user, ENGINE, 3, 1234, v3.scoped_pdu(ENGINE, b"", pdu))
    message = v3.decode(data)
    assert (message.msg_id, message.engine_id, message.boots, message.time) == (9, ENGINE, 3, 1234)
    v3.verify(message, user)
    _, _, decoded = v3.open_scoped_pdu(message, user)
    assert decoded.request_id == 42
    assert decoded.varbinds == [("1.3.6.1.2.1.1.5.0", b"core-1")]
    if priv:
        assert b"core-1" not in data
    tampered = bytearray(data)
    tampered[-3] ^= 0x01
    with pytest.raises(BerError, match="digest"):
        v3.verify(v3.decode(bytes(tampered)), user)
