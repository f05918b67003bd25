"""The verified-key cache: time-bounded, expiry-aware, never holds the secret."""

import time

from genosd.auth.keycache import KeyCache
from genosd.auth.keys import ApiKey, Role


def _key(expires_at: float | None = None) -> ApiKey:
    return ApiKey(
        id=1,
        prefix="abcd1234",
        name="n",
        role=Role.viewer,
        created_at=0.0,
        created_by="t",
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
    )


def test_entries_live_ttl_seconds_and_expired_keys_are_never_served():
    cache = KeyCache(ttl=2.0)
    secret = "gnd_abcd1234_" + "x" * 43
    cache.put(secret, _key(), now=100.0)
    assert cache.get(secret, now=101.9) is not None
    assert cache.get(secret, now=102.1) is None
    assert cache.get("gnd_abcd1234_other", now=100.5) is None
    cache.put(secret, _key(expires_at=time.time() - 1), now=100.0)
    assert cache.get(secret, now=100.1) is None  # expired since it was verified
    assert all(secret not in k for k in cache._entries)
    cache.put(secret, _key(), now=100.0)
    cache.clear()
    assert cache.get(secret, now=100.1) is None
