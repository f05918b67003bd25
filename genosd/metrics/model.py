"""A metric point and its InfluxDB line-protocol form.

Line protocol cannot carry everything a device reports, and InfluxDB and VictoriaMetrics read
some escapes differently, so genosd writes only what every server reads back unchanged and
replaces what none can carry (docs/metrics.md, "What line protocol cannot carry"):

* measurement names, tag keys, tag values and field keys: `,`, `=` and space are escaped with a
  backslash (`=` is left alone in measurement names, where it needs none); a line break or other
  control character becomes a space; a backslash that would end the text or stand before a
  character that needs escaping (or before another backslash, which the servers read differently,
  or, in measurement names and field keys, before `"`) becomes U+FF3C FULLWIDTH REVERSE
  SOLIDUS; a measurement cannot start with `#` (a comment line): U+FF03 FULLWIDTH NUMBER SIGN;
* string field values: `\\` and `"` are escaped; a line break (CRLF, LF or CR) or other control
  character except tab becomes a space (VictoriaMetrics splits lines at any newline, quoted or not);
* integers beyond the signed 64-bit range are written as floats; NaN and infinities, which no
  server accepts, are left out of the point (and a point with no field left is not written).

An empty tag value is left out, as InfluxDB requires.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

FieldValue = int | float | str | bool

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BACKSLASH_STAND_IN = "\uff3c"  # FULLWIDTH REVERSE SOLIDUS
HASH_STAND_IN = "\uff03"  # FULLWIDTH NUMBER SIGN
_CONTROL = re.compile(r"\r\n|[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"\r\n|[\x00-\x08\x0a-\x1f\x7f]")
# a backslash the servers would read as an escape, or read differently
_BAD_BACKSLASH = re.compile(r"\\(?=[\\, =]|$)")
# measurement names and field keys: InfluxDB also reads `\"` there as `"`
_BAD_BACKSLASH_NAME = re.compile(r'\\(?=[\\, ="]|$)')
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\x7f\\, ="]')
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


# tag keys and values and field keys repeat from point to point: remember their escaped forms
@functools.lru_cache(maxsize=1 << 16)
def escape_tag(text: str) -> str:
    """A tag key or tag value."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    text = _BAD_BACKSLASH.sub(BACKSLASH_STAND_IN, _CONTROL.sub(" ", text))
    return text.translate(_KEY_ESCAPES)


@functools.lru_cache(maxsize=1 << 16)
def escape_field_key(text: str) -> str:
    """A field key."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    text = _BAD_BACKSLASH_NAME.sub(BACKSLASH_STAND_IN, _CONTROL.sub(" ", text))
    return text.translate(_KEY_ESCAPES)


def escape_measurement(text: str) -> str:
    """A measurement name."""
    text = _BAD_BACKSLASH_NAME.sub(BACKSLASH_STAND_IN, _CONTROL.sub(" ", text))
    if text.startswith("#"):
        text = HASH_STAND_IN + text[1:]
    return text.translate(_MEASUREMENT_ESCAPES)


def encode_field(value: FieldValue) -> str | None:
    """A field value, or None when no server can store it (NaN, infinities)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return f"{value}i"
        value = float(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return '"' + _CONTROL_BUT_TAB.sub(" ", value).translate(_STRING_ESCAPES) + '"'


@dataclass(frozen=True)
class Point:
    """One measurement at one time: Telegraf/InfluxDB's data model."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int

    def to_line(self) -> str | None:
        """InfluxDB line protocol, or None when no field can be written."""
        fields = []
        for key, value in self.fields.items():
            encoded = encode_field(value)
            if encoded is not None and key:
                fields.append(f"{escape_field_key(key)}={encoded}")
        if not fields:
            return None
        tags = "".join(
            f",{escape_tag(k)}={escape_tag(v)}"
            for k, v in sorted(self.tags.items())
            if k and v != ""
        )
        return f"{escape_measurement(self.measurement)}{tags} {','.join(fields)} {self.time_ns}"
