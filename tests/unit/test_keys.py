"""API key lookup: a prefix that happens to be all digits is still a prefix, not an id."""

from pathlib import Path

import pytest

from genosd.auth.keys import Role, create_key, find_key, revoke_key, verify_key
from genosd.errors import NotFoundError
from genosd.statedb import connect, state_db_path


def test_all_digit_prefix_is_found_as_a_prefix_and_ids_still_work(tmp_path: Path):
    db = connect(state_db_path(tmp_path))
    made = [create_key(db, name=f"k{i}", role=Role.viewer, created_by="t") for i in range(3)]
    first, third = made[0].key, made[2].key
    # token_hex gives an all-digit prefix about once in 43 keys; pin one that also names an id
    digits = f"{third.id:08d}"
    db.execute("UPDATE api_keys SET prefix = ? WHERE id = ?", (digits, first.id))
    assert find_key(db, digits).id == first.id
    assert find_key(db, str(third.id)).id == third.id
    revoked = revoke_key(db, digits, actor="t")
    assert revoked.id == first.id and revoked.revoked_at is not None
    assert find_key(db, str(third.id)).revoked_at is None
    assert verify_key(db, made[2].secret).id == third.id
    with pytest.raises(NotFoundError):
        find_key(db, "ffffffff")
    with pytest.raises(NotFoundError):
        find_key(db, "999")
    with pytest.raises(NotFoundError):  # str.isdigit() is true for "³"; int() is not
        find_key(db, "3³")
