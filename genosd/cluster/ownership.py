"""Rendezvous (highest random weight) hashing: which node of a poller group owns a device.

Every node computes the same answer from the same member list with no coordination, and a node
joining or leaving moves only the devices it wins or held: about 1/N of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _weight(node: str, key: str) -> int:
    digest = hashlib.blake2b(f"{node}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(key: str, nodes: Iterable[str]) -> str | None:
    """The node with the highest weight for `key` (ties by name), None without nodes."""
    best: tuple[int, str] | None = None
    for node in nodes:
        candidate = (_weight(node, key), node)
        if best is None or candidate > best:
            best = candidate
    return best[1] if best is not None else None
