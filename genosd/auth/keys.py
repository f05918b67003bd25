"""API keys: random, shown once, stored as SHA-256 behind a lookup prefix; roles and expiry.

A key looks like `gnd_<prefix>_<secret>`: the 8-hex-digit prefix finds the row without scanning,
the 32-byte random secret is never stored, only the SHA-256 of the whole key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, computed_field

from genosd import audit
from genosd.errors import AuthenticationError, InvalidRequestError, NotFoundError
from genosd.statedb import transaction

KEY_PREFIX = "gnd_"


class Role(StrEnum):
    """What a key may do; each role includes the ones below it."""

    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        """Position in viewer < operator < admin."""
        return list(Role).index(self)

    def allows(self, required: Role) -> bool:
        """True when this role is at least `required`."""
        return self.rank >= required.rank


class ApiKey(BaseModel):
    """A stored key, without its secret (also the API's view of a key)."""

    model_config = ConfigDict(frozen=True)

    id: int
    prefix: str
    name: str
    role: Role
    created_at: float
    created_by: str
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > time.time()
        )

    @property
    def principal(self) -> str:
        """How the key appears in the audit log."""
        return f"key:{self.prefix}:{self.name}"


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: the only moment the secret exists outside the caller."""

    key: ApiKey
    secret: str


_COLUMNS = "id, prefix, name, role, created_at, created_by, expires_at, revoked_at, last_used_at"


_FIELDS = _COLUMNS.split(", ")


def _row(row: tuple) -> ApiKey:
    return ApiKey(**dict(zip(_FIELDS, row, strict=True)))


def digest(secret: str) -> str:
    """The SHA-256 of a key, as stored (the secret itself never is)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    db: sqlite3.Connection,
    *,
    name: str,
    role: Role,
    created_by: str,
    expires_in: float | None = None,
) -> NewKey:
    """Create a key and audit it (one transaction); the secret is returned, never stored."""
    if not name or len(name) > 64 or not name.isprintable():
        raise InvalidRequestError("key name must be 1-64 printable characters")
    if expires_in is not None and expires_in <= 0:
        raise InvalidRequestError("expiry must be in the future")
    now = time.time()
    for _ in range(5):  # a prefix collision is ~1 in 4 billion; retry rather than fail
        prefix = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction(db):
                cursor = db.execute(
                    "INSERT INTO api_keys (prefix, digest, name, role, created_at, created_by, "
                    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        prefix,
                        digest(secret),
                        name,
                        role.value,
                        now,
                        created_by,
                        now + expires_in if expires_in else None,
                    ),
                )
                key = find_key(db, str(cursor.lastrowid))
                audit.record(
                    db,
                    actor=created_by,
                    action="create_api_key",
                    target=f"key:{prefix}",
                    details={"name": name, "role": role.value, "expires_at": key.expires_at},
                )
        except sqlite3.IntegrityError:
            continue
        return NewKey(key, secret)
    raise RuntimeError("could not find a free key prefix")


def verify_key(db: sqlite3.Connection, secret: str) -> ApiKey:
    """The active key this secret belongs to; AuthenticationError for anything else."""
    parts = secret.split("_")
    if len(parts) < 3 or not secret.startswith(KEY_PREFIX) or len(parts[1]) != 8:
        raise AuthenticationError("malformed API key")
    row = db.execute(
        f"SELECT {_COLUMNS}, digest FROM api_keys WHERE prefix = ?", (parts[1],)
    ).fetchone()
    # compare a digest even when the prefix is unknown, so timing does not tell prefixes apart
    stored = row[-1] if row else "0" * 64
    if not hmac.compare_digest(stored, digest(secret)) or row is None:
        raise AuthenticationError("unknown API key")
    key = _row(row[:-1])
    if key.revoked_at is not None:
        raise AuthenticationError("API key revoked")
    if not key.active:
        raise AuthenticationError("API key expired")
    return key


def active_prefixes(db: sqlite3.Connection) -> set[str]:
    """The prefixes of keys not revoked (expiry is checked when the key is verified)."""
    return {row[0] for row in db.execute("SELECT prefix FROM api_keys WHERE revoked_at IS NULL")}


def prefix_of(secret: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    parts = secret.split("_")
    return parts[1] if len(parts) >= 3 and parts[0] + "_" == KEY_PREFIX else None


def touch_key(db: sqlite3.Connection, key_id: int, when: float) -> None:
    """Record that a key was used."""
    db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (when, key_id))


def list_keys(db: sqlite3.Connection, *, include_inactive: bool = False) -> list[ApiKey]:
    """Keys, newest first."""
    keys = [
        _row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id DESC").fetchall()
    ]
    return keys if include_inactive else [k for k in keys if k.active]


def find_key(db: sqlite3.Connection, ident: str) -> ApiKey:
    """A key by its 8-hex-digit prefix or, failing that, its numeric id."""
    row = None
    # a prefix can be all digits (token_hex), so an 8-character ident is tried as a prefix first
    if len(ident) == 8 and all(c in "0123456789abcdef" for c in ident):
        row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = ?", (ident,)).fetchone()
    if row is None and ident.isascii() and ident.isdigit():
        row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (int(ident),)).fetchone()
    if row is None:
        raise NotFoundError(f"no API key {ident!r}")
    return _row(row)


def revoke_key(db: sqlite3.Connection, ident: str, *, actor: str) -> ApiKey:
    """Revoke a key by id or prefix and audit it (one transaction); revoking twice is harmless."""
    with transaction(db):
        key = find_key(db, ident)
        if key.revoked_at is None:
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (time.time(), key.id))
        audit.record(db, actor=actor, action="revoke_api_key", target=f"key:{key.prefix}")
    return find_key(db, key.prefix)
