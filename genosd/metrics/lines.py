"""Reading back the line protocol genosd writes (the local store keeps points as lines)."""

from __future__ import annotations

from genosd.metrics.model import FieldValue, Point


def _until(text: str, start: int, stops: str) -> int:
    """The index of the first character of `stops` at or after `start` that is not escaped
    (len(text) when there is none)."""
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in stops:
            return index
        index += 1
    return len(text)


def _unescape(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def _number(text: str) -> FieldValue:
    if text in ("true", "false", "t", "f", "True", "False", "TRUE", "FALSE"):
        return text.lower().startswith("t")
    if text.endswith("i"):
        return int(text[:-1])
    return float(text)


def parse_line(line: str) -> Point:
    """One line of line protocol as a Point; ValueError when it is not one."""
    text = line.rstrip("\r\n")
    key_end = _until(text, 0, " ")
    rest = text[key_end + 1 :]
    fields_text, _, stamp = rest.rpartition(" ")
    if key_end >= len(text) or not fields_text:
        raise ValueError(f"not a line of line protocol: {line[:200]!r}")
    key = text[:key_end]
    cut = _until(key, 0, ",")
    measurement, tags = _unescape(key[:cut]), {}
    position = cut
    while position < len(key):
        equals = _until(key, position + 1, "=")
        end = _until(key, equals + 1, ",")
        tags[_unescape(key[position + 1 : equals])] = _unescape(key[equals + 1 : end])
        position = end
    fields: dict[str, FieldValue] = {}
    position = 0
    while position < len(fields_text):
        equals = _until(fields_text, position, "=")
        name = _unescape(fields_text[position:equals])
        if equals + 1 < len(fields_text) and fields_text[equals + 1] == '"':
            close = _until(fields_text, equals + 2, '"')
            fields[name] = _unescape(fields_text[equals + 2 : close])
            position = close + 2  # past the quote and the comma
        else:
            end = _until(fields_text, equals + 1, ",")
            fields[name] = _number(fields_text[equals + 1 : end])
            position = end + 1
    if not fields:
        raise ValueError(f"no fields: {line[:200]!r}")
    return Point(measurement, tags, fields, int(stamp))
