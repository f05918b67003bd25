"""A metric point and its InfluxDB line-protocol form."""

from __future__ import annotations

from dataclasses import dataclass

FieldValue = int | float | str | bool


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", r"\,").replace(" ", r"\ ")


def _field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Point:
    """One measurement at one time: Telegraf/InfluxDB's data model."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_ns: int

    def to_line(self) -> str:
        """InfluxDB line protocol; empty tag values are left out as InfluxDB requires."""
        tags = "".join(
            f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(self.tags.items()) if v != ""
        )
        fields = ",".join(f"{_escape_key(k)}={_field(v)}" for k, v in self.fields.items())
        return f"{_escape_measurement(self.measurement)}{tags} {fields} {self.time_ns}"
