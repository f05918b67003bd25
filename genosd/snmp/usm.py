"""SNMPv3 User-based Security Model (RFC 3414, RFC 3826, RFC 7860): keys, digests, privacy.

Authentication: HMAC-MD5-96, HMAC-SHA-96 and the SHA-2 HMACs of RFC 7860. Privacy: DES-CBC
(RFC 3414), 3DES-EDE (draft-reeder-snmpv3-usm-3desede), AES-128 CFB (RFC 3826) and AES-192/256
with either key extension in the field: Blumenthal (draft-blumenthal-aes-usm-04, net-snmp's
`AES192`/`AES256`) or Reeder (Cisco's, net-snmp's `AES192C`/`AES256C`). Ciphers come from
`cryptography`; passwords become localized keys once per (user, agent engine).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography 47 moved CFB among the "decrepit" modes (it is what RFC 3826 specifies)
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from genosd.snmp.ber import BerError

# name: (hash, digest bytes carried in msgAuthenticationParameters)
AUTH: dict[str, tuple[Callable[..., Any], int]] = {
    "MD5": (hashlib.md5, 12),
    "SHA": (hashlib.sha1, 12),
    "SHA224": (hashlib.sha224, 16),
    "SHA256": (hashlib.sha256, 24),
    "SHA384": (hashlib.sha384, 32),
    "SHA512": (hashlib.sha512, 48),
}
# name: (cipher, key bytes, key extension)
PRIV: dict[str, tuple[str, int, str]] = {
    "DES": ("des", 16, "none"),
    "3DES": ("3des", 32, "reeder"),
    "AES": ("aes", 16, "none"),
    "AES128": ("aes", 16, "none"),
    "AES192": ("aes", 24, "blumenthal"),
    "AES256": ("aes", 32, "blumenthal"),
    "AES192C": ("aes", 24, "reeder"),
    "AES256C": ("aes", 32, "reeder"),
}


@lru_cache(maxsize=1024)
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: the digest of a megabyte of the password repeated (cached: it is the
    expensive step, and a trap receiver localizes one user's keys for many engines)."""
    if not password:
        raise ValueError("an SNMPv3 password cannot be empty")
    repeated = password * (1_048_576 // len(password) + 1)
    return AUTH[hash_name][0](repeated[:1_048_576]).digest()


def localize(key: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """RFC 3414 2.6: a key bound to one authoritative engine."""
    return AUTH[hash_name][0](key + engine_id + key).digest()


def _extend(key: bytes, size: int, engine_id: bytes, hash_name: str, how: str) -> bytes:
    while len(key) < size:
        if how == "blumenthal":
            key += AUTH[hash_name][0](key).digest()
        elif how == "reeder":
            key += localize(password_to_key(key, hash_name), engine_id, hash_name)
        else:  # DES and AES-128 keys are always long enough
            raise ValueError(f"a {size}-byte key from a {len(key)}-byte digest")
    return key[:size]


@lru_cache(maxsize=8192)
def localized_keys(
    auth: str, auth_password: bytes, priv: str | None, priv_password: bytes, engine_id: bytes
) -> tuple[bytes, bytes]:
    """(authentication key, privacy key) of a user for one engine."""
    auth_key = localize(password_to_key(auth_password, auth), engine_id, auth)
    if priv is None:
        return auth_key, b""
    _, size, how = PRIV[priv]
    priv_key = localize(password_to_key(priv_password, auth), engine_id, auth)
    return auth_key, _extend(priv_key, size, engine_id, auth, how)


def digest(auth: str, key: bytes, message: bytes) -> bytes:
    """The truncated HMAC carried in msgAuthenticationParameters."""
    hash_function, size = AUTH[auth]
    return hmac.new(key, message, hash_function).digest()[:size]


@dataclass
class Privacy:
    """Encrypts and decrypts scoped PDUs for one user and engine (salts never repeat)."""

    protocol: str
    key: bytes

    def __post_init__(self) -> None:
        self.cipher, _, _ = PRIV[self.protocol]
        self._salt = int.from_bytes(os.urandom(8), "big")

    def _next_salt(self) -> int:
        self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
        return self._salt

    def encrypt(self, plaintext: bytes, boots: int, time: int) -> tuple[bytes, bytes]:
        """(ciphertext, msgPrivacyParameters)."""
        if self.cipher == "aes":
            salt = self._next_salt().to_bytes(8, "big")
            iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
            encryptor = Cipher(algorithms.AES(self.key), CFB(iv)).encryptor()
            return encryptor.update(plaintext) + encryptor.finalize(), salt
        salt = boots.to_bytes(4, "big") + (self._next_salt() & 0xFFFFFFFF).to_bytes(4, "big")
        key, pre_iv = self._des_key()
        iv = bytes(a ^ b for a, b in zip(pre_iv, salt, strict=True))
        padded = plaintext + b"\x00" * (-len(plaintext) % 8)
        encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
        return encryptor.update(padded) + encryptor.finalize(), salt

    def decrypt(self, ciphertext: bytes, salt: bytes, boots: int, time: int) -> bytes:
        """The scoped PDU (DES: with its padding; BER lengths tell where it ends)."""
        if len(salt) != 8:
            raise BerError("msgPrivacyParameters is not 8 bytes")
        if self.cipher == "aes":
            iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
            decryptor = Cipher(algorithms.AES(self.key), CFB(iv)).decryptor()
            return decryptor.update(ciphertext) + decryptor.finalize()
        if len(ciphertext) % 8:
            raise BerError("DES ciphertext is not a multiple of 8 bytes")
        key, pre_iv = self._des_key()
        iv = bytes(a ^ b for a, b in zip(pre_iv, salt, strict=True))
        decryptor = Cipher(TripleDES(key), modes.CBC(iv)).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()

    def _des_key(self) -> tuple[bytes, bytes]:
        if self.cipher == "des":  # single DES is 3DES with one key three times
            return self.key[:8] * 3, self.key[8:16]
        return self.key[:24], self.key[24:32]
