"""Masking the secrets of device configs: every secret-bearing form, one stable token per value.

Each platform lists where its secrets stand (genosd/platforms.yaml). A secret value becomes
`<secret:0123456789>`, ten hex digits of an HMAC of the value under a key of the device: the same
value always masks to the same token in that device's history, so a rotated key shows as a
changed line without either value showing, and nothing of the token can be reversed or compared
across devices. The key derives from a random install key kept in `<state_dir>/mask.key` (never in
the config history, so a pushed history holds no way to test guesses).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import hmac
import itertools
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from genosd.platforms import Platform, load_platforms

MASK = "<masked>"  # the token of versions before stable tokens, and of masking without a key
TOKEN_RE = re.compile(r"<secret:[0-9a-f]{10}>|<masked>")
NEGATIONS = ("no ", "delete ")  # a removed secret line still quotes the secret
KEY_FILE = "mask.key"


def key_id(key: bytes) -> str:
    """A masking key's fingerprint: nodes that mask alike show the same one."""
    return hashlib.sha256(b"genosd-mask-key:" + key).hexdigest()[:16]


def install_key(state_dir: Path) -> bytes:
    """The install's masking key, created (mode 0600) on first use."""
    path = state_dir / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    # written whole under a temporary name, then linked into place: a process or thread that
    # loses the race reads the winner's complete key, never a half-written one
    descriptor, temporary = tempfile.mkstemp(prefix=".mask-", dir=state_dir)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(fresh + "\n")
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return bytes.fromhex(path.read_text().strip())
    finally:
        os.unlink(temporary)
    return bytes.fromhex(fresh)


def generic(line: str) -> str:
    """`line` with every token made the same: lines that differ only in a secret compare equal."""
    return TOKEN_RE.sub(MASK, line)


@dataclass(frozen=True)
class Masked:
    """A masked text and how many secrets were masked in it."""

    text: str
    count: int


class Masker:
    """Masks one device's secrets; without a key every secret becomes `<masked>`."""

    def __init__(self, platform: Platform, device: str = "", key: bytes | None = None):
        self.platform = platform
        self._key = None if key is None else hmac.digest(key, device.encode(), "sha256")

    def token(self, value: str) -> str:
        """The stable token of one secret value."""
        if self._key is None:
            return MASK
        return f"<secret:{hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:10]}>"

    def spans(
        self, line: str, parent: str | None = None, *, anchored_only: bool = False
    ) -> list[tuple[int, int]]:
        """Where the secret values of `line` stand (under `parent`; None: any section), in order;
        `anchored_only` tries only the patterns that match at a line's start."""
        body, offset = line, 0
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        for negation in NEGATIONS:
            if stripped.startswith(negation):
                # the negated line keeps its indentation, so anchored patterns still apply
                body, offset = indent + stripped[len(negation) :], len(negation)
                break
        found: list[tuple[int, int]] = []
        platform = self.platform
        for (pattern, within), anchored in zip(
            platform.secret_res, platform.secret_anchored, strict=True
        ):
            if anchored_only and not anchored:
                continue
            if within is not None and parent is not None and not within.search(parent):
                continue
            for match in pattern.finditer(body):
                start, end = match.span("secret")
                if body[start:end].startswith('"') and end - start >= 2 and body[end - 1] == '"':
                    start, end = start + 1, end - 1
                if TOKEN_RE.sub("", body[start:end]).strip():  # not already masked
                    found.append((start + offset, end + offset))
        return _disjoint(found)

    def line(self, line: str, parent: str | None = None) -> tuple[str, int]:
        """One line masked, and how many secrets it held."""
        spans = self.spans(line, parent)
        for start, end in reversed(spans):
            line = line[:start] + self.token(line[start:end]) + line[end:]
        return line, len(spans)

    def text(self, text: str) -> Masked:
        """A whole config masked (each indented line is read under its top-level line)."""
        out, count = [], 0
        for parent, line in with_parents(text.split("\n")):
            masked, found = self.line(line, parent)
            out.append(masked)
            count += found
        return Masked("\n".join(out), count)

    def lines(self, lines: Iterable[str]) -> list[str]:
        """Diff, command or rollback lines masked (a leading +/- sign is kept as it is)."""
        out = []
        for parent, line in with_parents(list(lines), signed=True):
            sign = _sign(line)
            out.append(sign + self.line(line[len(sign) :], parent)[0])
        return out

    def free_text(self, text: str) -> str:
        """Free text (a log line, a device's error message) with every secret masked.

        Free text is not a config: a secret line may start anywhere in it (after a prompt or a
        quote, inside a bytes repr whose line breaks are escaped, in a regex netmiko logs), so
        each piece is tried from every word start.
        """
        if not _maybe_secret(text):
            return text
        pieces = _BREAKS.split(_REGEX_ESCAPES.sub(r"\1", text))
        # one scan for what could be a secret, mapped to the pieces it falls in (a text of many
        # lines has few that could hold one)
        ends = list(itertools.accumulate(len(p) for p in pieces))
        maybe = {
            bisect.bisect_right(ends, m.start()) for m in _MAYBE_SECRET.finditer("".join(pieces))
        }
        for number in sorted(maybe):
            piece = pieces[number]
            if number % 2:
                continue  # a line break
            # a pattern not tied to a line's start finds its place in the whole piece; one that is
            # is tried from every place a config line could start
            spans = self.spans(piece)
            for at in (m.end() for m in _STARTS.finditer(piece)):
                spans += [(at + a, at + b) for a, b in self.spans(piece[at:], anchored_only=True)]
            for start, end in reversed(_disjoint(spans)):
                piece = piece[:start] + self.token(piece[start:end]) + piece[end:]
            pieces[number] = piece
        return "".join(pieces)


def with_parents(lines: list[str], *, signed: bool = False) -> list[tuple[str | None, str]]:
    """(top-level line it stands under, line) for each line; a top-level line is its own parent.

    Lines before the first top-level line have an unknown parent (None): every rule applies.
    """
    out: list[tuple[str | None, str]] = []
    parent: str | None = None
    for line in lines:
        body = line[len(_sign(line)) :] if signed else line
        if body and not body[0].isspace():
            parent = body
        out.append((parent, line))
    return out


def changed_secrets(removed: list[str], added: list[str]) -> list[str]:
    """The lines whose only difference is a secret's token: what a diff reports as "changed".

    A line masked without a key (`<masked>`, as versions before stable tokens stored it) says
    nothing about its value, so it never counts as a change.
    """
    gone = {_unsigned(line) for line in removed if _tokened(line)}
    return [_unsigned(line) for line in added if _tokened(line) and _unsigned(line) in gone]


def _tokened(line: str) -> bool:
    return MASK not in line and TOKEN_RE.search(line) is not None


def diff_changed_secrets(diff: list[str]) -> list[str]:
    """`changed_secrets` of a unified diff's lines."""
    return changed_secrets(
        [line for line in diff if _sign(line) == "-"], [line for line in diff if _sign(line) == "+"]
    )


def _unsigned(line: str) -> str:
    return generic(line[len(_sign(line)) :]).strip()


def _sign(line: str) -> str:
    if line[:1] in ("+", "-") and not line.startswith(("+++", "---")):
        return line[0]
    return ""


def _disjoint(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans merged (two rules may see the same value with different edges)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# a cheap test before running every platform's rules over a log line
_MAYBE_SECRET = re.compile(
    r"(?i)pass|secret|key|community|auth|psk|md5|sha|\$\d\$|nhrp|spi |encrypted|ascii-text"
)
# the same test as substrings of the lowered text: ~10x faster than the case-blind alternation
# (a syslog receiver runs it on every message)
_MAYBE_WORDS = (
    "pass", "secret", "key", "community", "auth", "psk", "md5", "sha", "nhrp", "spi ",
    "encrypted", "ascii-text",
)  # fmt: skip
_CRYPT_PREFIX = re.compile(r"\$\d\$")


def _maybe_secret(text: str) -> bool:
    lowered = text.lower()
    if any(word in lowered for word in _MAYBE_WORDS):
        return True
    return "$" in text and _CRYPT_PREFIX.search(text) is not None


# where a config line may start inside a log message: after a space, quote, bracket, prompt or
# colon ("write_channel: b'snmp-server community …", "lab-r1(config)#username …")
_STARTS = re.compile(r"""[\s'"(#>:]""")
# a log line may hold a whole output as a bytes repr, its line breaks written as \n
_BREAKS = re.compile(r"(\\r\\n|\\n|\\r|\n)")
# netmiko logs the regex of what it waits for: `no\ snmp\-server\ community\ …`
_REGEX_ESCAPES = re.compile(r"\\([^\w\\])")


@functools.cache
def every_platform() -> Platform:
    """A platform with every platform's secret rules (a device whose platform is not known)."""
    platforms = list(load_platforms().values())
    rules = [rule.model_dump() for p in platforms for rule in p.secrets]
    return Platform(**{**platforms[0].model_dump(), "name": "any", "secrets": rules})


@functools.cache
def _anywhere() -> Masker:
    return Masker(every_platform())


def redact_config_forms(text: str) -> str:
    """`text` (a log message) with every config-form secret of every platform masked."""
    return _anywhere().free_text(text)
