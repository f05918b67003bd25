"""Syslog over a byte stream (TCP, TLS): RFC 6587 octet counting and LF-terminated framing.

Each frame says which it uses: one starting with a digit is `LENGTH SP MESSAGE` (octet counting,
RFC 5425 §4.3), one starting with `<` runs to the next LF (non-transparent framing, RFC 6587
§3.4.2; a NUL also ends it, as some senders use). Senders may mix them on one connection. A frame
longer than the limit is cut to it and counted, so one peer cannot make the receiver hold an
unbounded buffer.
"""

from __future__ import annotations

MAX_LENGTH_DIGITS = 10


class FramingError(ValueError):
    """The stream cannot be framed any more (the connection is closed)."""


class Deframer:
    """Feed it bytes as they arrive; it returns the whole messages they complete."""

    def __init__(self, max_message: int):
        self.max_message = max_message
        self.truncated = 0  # frames cut to `max_message`
        self._buffer = bytearray()
        self._skip = 0  # bytes of an over-long octet-counted frame still to throw away
        self._discarding = False  # inside an over-long LF frame, until its LF

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by `data`; FramingError when the stream is not syslog."""
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        buffer = self._buffer
        buffer += data
        messages: list[bytes] = []
        at = 0
        while at < len(buffer):
            first = buffer[at]
            if self._discarding:
                end = buffer.find(b"\n", at)
                if end < 0:
                    at = len(buffer)
                    break
                self._discarding = False
                at = end + 1
            elif 0x30 <= first <= 0x39:  # a digit: octet counting
                space = buffer.find(b" ", at, at + MAX_LENGTH_DIGITS + 1)
                if space < 0:
                    if len(buffer) - at > MAX_LENGTH_DIGITS:
                        raise FramingError("an octet count longer than 10 digits")
                    break
                digits = bytes(buffer[at:space])
                if not digits.isdigit():
                    raise FramingError(f"bad octet count {digits[:12]!r}")
                length = int(digits)
                start = space + 1
                if length > self.max_message:
                    self.truncated += 1
                    messages.append(bytes(buffer[start : start + self.max_message]))
                    available = len(buffer) - start
                    if available < length:
                        # keep nothing of this frame: throw its remaining bytes away as they come
                        self._skip = length - available
                        at = len(buffer)
                        break
                    at = start + length
                    continue
                if len(buffer) - start < length:
                    break
                messages.append(bytes(buffer[start : start + length]))
                at = start + length
            elif first in (0x0A, 0x0D, 0x00, 0x20):
                at += 1  # stray separators between frames
            else:
                end = _terminator(buffer, at)
                if end < 0:
                    if len(buffer) - at > self.max_message:
                        self.truncated += 1
                        messages.append(bytes(buffer[at : at + self.max_message]))
                        self._discarding = True
                        at = len(buffer)
                    break
                messages.append(bytes(buffer[at:end]).rstrip(b"\r"))
                at = end + 1
        del buffer[:at]
        return messages

    def rest(self) -> bytes | None:
        """What is left when the peer closes: a last LF frame without its LF, if any."""
        left = bytes(self._buffer).strip(b"\r\n\x00 ")
        self._buffer.clear()
        if not left or self._discarding or left[:1].isdigit():
            return None
        return left[: self.max_message]


def _terminator(buffer: bytearray, start: int) -> int:
    newline = buffer.find(b"\n", start)
    nul = buffer.find(b"\x00", start, newline if newline >= 0 else len(buffer))
    return nul if nul >= 0 else newline
