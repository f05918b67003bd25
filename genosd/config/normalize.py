"""Making a collected config fit for history: drop volatile lines, mask secrets."""

from __future__ import annotations

from genosd.config.secrets import Masker
from genosd.platforms import Platform


def strip_volatile(platform: Platform, text: str) -> str:
    """The config without lines that change on their own (timestamps, byte counts)."""
    pattern = platform.volatile_re
    lines = text.replace("\r\n", "\n").split("\n")
    kept = [line for line in lines if pattern is None or not pattern.search(line)]
    return "\n".join(kept).strip("\n") + "\n"


def for_history(platform: Platform, text: str, masker: Masker | None) -> tuple[str, int]:
    """What is stored: volatile lines dropped, then secrets masked (unless no masker is given)."""
    stable = strip_volatile(platform, text)
    if masker is None:
        return stable, 0
    masked = masker.text(stable)
    return masked.text, masked.count
