"""Making a collected config fit for history: drop volatile lines, mask secrets."""

from __future__ import annotations

from genosd.platforms import Platform

MASK = "<masked>"


def strip_volatile(platform: Platform, text: str) -> str:
    """The config without lines that change on their own (timestamps, byte counts)."""
    pattern = platform.volatile_re
    lines = text.replace("\r\n", "\n").split("\n")
    kept = [line for line in lines if pattern is None or not pattern.search(line)]
    return "\n".join(kept).strip("\n") + "\n"


def mask_secrets(platform: Platform, text: str) -> tuple[str, int]:
    """The config with every secret replaced by <masked>, and how many were masked."""
    masked = 0
    out = []
    for line in text.split("\n"):
        for pattern in platform.secret_res:
            match = pattern.search(line)
            if match and match.group("secret") != MASK:
                start, end = match.span("secret")
                line = line[:start] + MASK + line[end:]
                masked += 1
                break
        out.append(line)
    return "\n".join(out), masked


def for_history(platform: Platform, text: str, *, mask: bool = True) -> tuple[str, int]:
    """What is stored: volatile lines dropped, then secrets masked (unless `mask` is off)."""
    stable = strip_volatile(platform, text)
    return mask_secrets(platform, stable) if mask else (stable, 0)
