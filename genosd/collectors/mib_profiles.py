r"""MIB profiles: any SNMP table or scalar polled by configuration, as Telegraf's inputs.snmp does.

A profile file holds `profiles:`, a list of:

    name: huawei-cpu-memory
    description: Huawei VRP CPU and memory per board
    sys_object_id: ["1.3.6.1.4.1.2011."]   # sysObjectID prefixes; empty: every device
    tables:
      - measurement: snmp_cpu              # the point's measurement (Telegraf: the table name)
        index_tag: index                   # the row index as this tag ("" for none)
        index_as: ip                       # optional: the index arcs read as an IPv4 address
        constant_tags: {source: huawei}
        extra: [{name: scale, oid: ...}]   # columns read for scaling or lookups, not written
        tags:                              # columns that become tags
          - {name: cpu, oid: ENTITY-MIB::entPhysicalName}
          - {name: ifName, oid: IF-MIB::ifName, index_from: sensorIfIndex}  # a lookup: another
                                           # table's value at the index this row's column holds
        fields:
          - {name: load_percent, oid: HUAWEI-ENTITY-EXTENT-MIB::hwEntityCpuUsage, conversion: float}
        skip_if: {load_percent: [0]}       # optional: rows whose field has one of these values
    scalars:
      - measurement: snmp_mem
        constant_tags: {pool: system, source: fortinet}
        fields:
          - {name: used_percent, oid: 1.3.6.1.4.1.12356.101.4.1.4.0}

An `oid` is numeric or a MIB name (`MODULE::object` or `object`) from the names genosd knows.
Conversions: int, float, string, hex, ip, mac, enum (with `enum: {1: up}`), plus `scale` (a
factor), `decimals_from` (divide by 10^column) and `si_scale_from` (ENTITY-SENSOR's SI prefix).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genosd.errors import ConfigError
from genosd.snmp.ber import Value
from genosd.snmp.names import MibNames
from genosd.yamlfile import describe_validation_error, load_yaml, yaml_files

Conversion = Literal["int", "float", "string", "hex", "ip", "mac", "enum"]
BUILTIN_DIR = Path(__file__).parent / "profiles"


class ProfileError(ConfigError):
    """A MIB profile file is invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One object of a table or a scalar: its name in the point and how its value is read."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
    oid: str
    conversion: Conversion | None = None
    enum: dict[int, str] = {}
    scale: float | None = None
    decimals_from: str | None = None
    si_scale_from: str | None = None
    index_from: str | None = None  # tags only: look the value up at the index this column holds

    @field_validator("oid")
    @classmethod
    def _oid(cls, value: str) -> str:
        return value.strip().lstrip(".")


class TableSpec(_Strict):
    """A table: every row is a point."""

    measurement: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    index_tag: str = "index"
    index_as: Literal["oid", "ip"] = "oid"
    constant_tags: dict[str, str] = {}
    tags: list[ColumnSpec] = []
    fields: list[ColumnSpec] = Field(min_length=1)
    extra: list[ColumnSpec] = []  # read (for scaling or lookups), not written
    skip_if: dict[str, list[int | str]] = {}


class ScalarSpec(_Strict):
    """Scalars (instances ending in .0): one point."""

    measurement: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    constant_tags: dict[str, str] = {}
    fields: list[ColumnSpec] = Field(min_length=1)


class MibProfile(_Strict):
    """What to poll on the devices a sysObjectID prefix names."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = ""
    sys_object_id: list[str] = []
    tables: list[TableSpec] = []
    scalars: list[ScalarSpec] = []

    def matches(self, sys_object_id: str) -> bool:
        """Whether a device with this sysObjectID gets the profile."""
        oid = sys_object_id.lstrip(".")
        return not self.sys_object_id or any(
            oid == p.rstrip(".") or oid.startswith(p.rstrip(".") + ".") for p in self.sys_object_id
        )


class _ProfileFile(_Strict):
    profiles: list[MibProfile]


@dataclass(frozen=True)
class ProfileSet:
    """The loaded profiles, with every object name resolved to its OID."""

    profiles: tuple[MibProfile, ...] = ()
    oids: Mapping[str, str] = field(default_factory=dict)  # spec oid (name or number) -> number

    def for_device(self, sys_object_id: str, enabled: Iterable[str] = ()) -> list[MibProfile]:
        """The profiles a device gets (of `enabled` ones, when given)."""
        wanted = set(enabled)
        return [
            p
            for p in self.profiles
            if (not wanted or p.name in wanted) and p.matches(sys_object_id)
        ]

    def oid(self, spec: ColumnSpec) -> str:
        """The numeric OID of a column."""
        return self.oids[spec.oid]


def load_profiles(paths: Iterable[Path], names: MibNames) -> ProfileSet:
    """Profiles from YAML files (a directory means its *.yaml), names resolved; ProfileError
    naming file, line and field for anything wrong."""
    files = yaml_files(paths, error=ProfileError, what="profile")
    profiles: list[MibProfile] = []
    oids: dict[str, str] = {}
    problems: list[str] = []
    seen: dict[str, str] = {}
    for file in files:
        doc = load_yaml(file, error=ProfileError)
        try:
            parsed = _ProfileFile.model_validate(
                doc.data if doc.data is not None else {"profiles": []}
            )
        except ValidationError as exc:
            problems.extend(describe_validation_error(exc, [doc]))
            continue
        for number, profile in enumerate(parsed.profiles):
            where = doc.where(("profiles", number, "name"))
            if profile.name in seen:
                problems.append(
                    f"{where}: duplicate profile {profile.name!r} (first in {seen[profile.name]})"
                )
                continue
            seen[profile.name] = where
            problems.extend(_resolve(profile, names, oids, doc.where(("profiles", number))))
            profiles.append(profile)
    if problems:
        raise ProfileError("invalid MIB profiles", problems=problems)
    return ProfileSet(tuple(profiles), oids)


def _resolve(profile: MibProfile, names: MibNames, oids: dict[str, str], where: str) -> list[str]:
    problems: list[str] = []
    groups: list[tuple[str, list[ColumnSpec]]] = [
        (t.measurement, [*t.tags, *t.fields, *t.extra]) for t in profile.tables
    ] + [(s.measurement, list(s.fields)) for s in profile.scalars]
    for measurement, columns in groups:
        known = {c.name for c in columns}
        for column in columns:
            oid = names.oid_of(column.oid)
            if oid is None:
                problems.append(
                    f"{where}: profile {profile.name!r}, {measurement}.{column.name}: unknown "
                    f"object {column.oid!r} (a numeric OID, or a name from the MIB names)"
                )
                continue
            oids[column.oid] = oid
            for ref in (column.decimals_from, column.si_scale_from, column.index_from):
                if ref is not None and ref not in known:
                    problems.append(
                        f"{where}: profile {profile.name!r}, {measurement}.{column.name}: "
                        f"{ref!r} is not a column of this table"
                    )
            if column.conversion == "enum" and not column.enum:
                problems.append(
                    f"{where}: profile {profile.name!r}, {measurement}.{column.name}: "
                    "conversion enum needs `enum:`"
                )
    for scalar in profile.scalars:
        for column in scalar.fields:
            if column.oid in oids and not oids[column.oid].endswith(".0"):
                problems.append(
                    f"{where}: profile {profile.name!r}, {scalar.measurement}.{column.name}: a "
                    "scalar's OID is an instance ending in .0"
                )
    return problems


# --- turning walked values into samples --------------------------------------------------------


@dataclass
class TableSample:
    """One point a profile produced: measurement, tags and fields (before the common tags)."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, int | float | str]


def _text(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return text.replace("\x00", "").strip()


def convert(spec: ColumnSpec, value: Value, row: Mapping[str, Value]) -> int | float | str | None:
    """A raw value as the column says (None: nothing usable; ValueError: the wrong type)."""
    if value is None:
        return None
    kind = spec.conversion
    if kind == "hex":
        return value.hex() if isinstance(value, bytes) else format(value, "x")
    if kind == "ip":
        if not isinstance(value, bytes) or len(value) not in (4, 16):
            raise ValueError(f"{spec.name}: not an IP address")
        return str(ipaddress.ip_address(value))
    if kind == "mac":
        if not isinstance(value, bytes) or len(value) != 6:
            raise ValueError(f"{spec.name}: not a MAC address")
        return ":".join(f"{b:02x}" for b in value)
    if kind == "enum":
        code = int(_text(value)) if isinstance(value, bytes) else int(value)
        return spec.enum.get(code, str(code))
    numeric = spec.scale is not None or spec.decimals_from or spec.si_scale_from
    if kind == "string" or (kind is None and isinstance(value, bytes) and not numeric):
        if isinstance(value, bytes):
            if value.startswith(b".") and value[1:2].isdigit():
                return value.decode()  # an OID value
            return _text(value)
        return str(value)
    # numbers some agents send as text ("12.5")
    number: int | float = float(_text(value)) if isinstance(value, bytes) else value
    if kind == "float" or spec.scale is not None:
        number = float(number)
    if kind == "int":
        number = int(number)
    if spec.scale is not None:
        number *= spec.scale
    if spec.decimals_from is not None:
        decimals = row.get(spec.decimals_from)
        if isinstance(decimals, int) and 0 <= decimals <= 9:
            number = number / 10**decimals
    if spec.si_scale_from is not None:
        prefix = row.get(spec.si_scale_from)
        if isinstance(prefix, int) and 1 <= prefix <= 17:  # yocto(1) .. units(9) .. yotta(17)
            number = number * 10 ** (3 * (prefix - 9))
    return number


def _pointer(value: Value) -> str | None:
    """The index a lookup column points at: a number, or the last arc of an OID value
    (`ifIndex.5` as entAliasMappingIdentifier holds it)."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        text = value.decode(errors="replace").strip()
        if text.startswith(".") and text[1:2].isdigit():
            return text.rsplit(".", 1)[1]
        return text if text.isdigit() else None
    return None


def _index(index: str, how: str) -> str:
    if how == "ip":
        arcs = index.split(".")[-4:]
        if len(arcs) == 4 and all(a.isdigit() and int(a) < 256 for a in arcs):
            return ".".join(arcs)
    return index


def table_samples(
    table: TableSpec,
    oids: ProfileSet,
    walked: Mapping[str, Mapping[str, Value]],
    problems: list[str],
) -> list[TableSample]:
    """The rows of one profile table, from the walked columns ({oid: {index: value}})."""
    columns = (*table.tags, *table.fields, *table.extra)
    raw_columns = {c.name: walked.get(oids.oid(c), {}) for c in columns}
    indexes: dict[str, None] = {}
    for column in table.fields:
        indexes.update(dict.fromkeys(raw_columns[column.name]))
    samples: list[TableSample] = []
    for index in indexes:
        row = {name: values.get(index) for name, values in raw_columns.items()}
        tags = dict(table.constant_tags)
        if table.index_tag:
            tags[table.index_tag] = _index(index, table.index_as)
        fields: dict[str, int | float | str] = {}
        try:
            for column in table.tags:
                raw = row.get(column.name)
                if column.index_from is not None:
                    pointer = _pointer(row.get(column.index_from))
                    raw = walked.get(oids.oid(column), {}).get(pointer) if pointer else None
                value = convert(column, raw, row)
                if value not in (None, ""):
                    tags[column.name] = str(value)
            for column in table.fields:
                value = convert(column, row.get(column.name), row)
                if value is not None:
                    fields[column.name] = value
        except (ValueError, TypeError) as exc:
            if len(problems) < 20:
                problems.append(f"{table.measurement}.{index}: {exc}")
            continue
        if any(fields.get(name) in values for name, values in table.skip_if.items()):
            continue
        if fields:
            samples.append(TableSample(table.measurement, tags, fields))
    return samples


def lookup_oids(table: TableSpec, oids: ProfileSet) -> list[str]:
    """Every column a table needs walked (its own and those its lookups read)."""
    return list(dict.fromkeys(oids.oid(c) for c in (*table.tags, *table.fields, *table.extra)))
