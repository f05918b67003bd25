"""Poll one device over SNMP: system, interfaces, CPU and memory, validated against their MIBs.

A poll never raises for device trouble: timeouts, garbage and wrong types end up in the returned
SnmpPoll (ok=False with an error, or ok=True with `problems` for values that were dropped).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from genosd.collectors import snmp_mibs as mib
from genosd.collectors.mib_profiles import (
    MibProfile,
    ProfileSet,
    TableSample,
    convert,
    lookup_oids,
    table_samples,
)
from genosd.collectors.snmp_client import SnmpSession, Value, walk_columns
from genosd.errors import DeviceError, DeviceTimeout
from genosd.snmp.ber import Counter32

Sample = int | str
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class PollProfile:
    """Which tables a poll walks."""

    interfaces: tuple[mib.Column, ...] = (*mib.IF_TABLE, *mib.IFX_TABLE)
    cpu_memory: bool = True
    enabled: tuple[str, ...] = ()  # MIB profiles to use (empty: every one matching the device)


FULL_PROFILE = PollProfile()


@dataclass
class CpuSample:
    """One CPU's load, from HOST-RESOURCES or a vendor MIB."""

    name: str
    load_percent: float
    source: str


@dataclass
class MemorySample:
    """One memory pool: used and total bytes, or a percentage where the MIB gives only that."""

    name: str
    source: str
    used_bytes: int | None = None
    total_bytes: int | None = None
    used_percent: float | None = None


# how late a poll may start (waiting for a free slot in the poller) and still be on time
SLOT_TOLERANCE = 1.0


@dataclass
class SnmpPoll:
    """The outcome of one poll of one device; device trouble is data here, not an exception."""

    device: str
    address: str
    started: float
    counters_at: float = 0.0  # wall time the counter walk began: the time base of rates
    duration: float = 0.0
    ok: bool = False
    error: str | None = None
    timed_out: bool = False
    requests: int = 0
    varbinds: int = 0
    system: dict[str, Sample] = field(default_factory=dict)
    interfaces: dict[str, dict[str, Sample]] = field(default_factory=dict)
    cpu: list[CpuSample] = field(default_factory=list)
    memory: list[MemorySample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    invalid_utf8: int = 0  # strings that were not UTF-8 (read as Latin-1)
    tables: list[TableSample] = field(default_factory=list)  # what MIB profiles produced
    # 64-bit counter columns the agent answered with a Counter32: (ifIndex, column) wraps at 2^32
    narrow_counters: set[tuple[str, str]] = field(default_factory=set)
    slot: float | None = None  # the scheduled slot (None: an off-grid poll, e.g. on demand)
    longest_table: int = 0  # rows in the longest column walked (sizes the next poll's GETBULK)
    skipped_slots: int = 0  # slots missed before this poll because the previous one overran

    @property
    def on_time(self) -> bool:
        """Started close enough to its slot for the points to carry the slot's time."""
        return self.slot is not None and self.started - self.slot <= SLOT_TOLERANCE

    @property
    def timestamp(self) -> float:
        """When the points of this poll are: its slot when on time, else when it started."""
        return self.slot if self.slot is not None and self.on_time else self.started


class _CountingSession:
    """Counts requests and varbinds for the poll's own health record."""

    def __init__(self, inner: SnmpSession):
        self.inner = inner
        self.requests = 0
        self.varbinds = 0

    async def get(self, oids: Sequence[str]) -> list[tuple[str, Value]]:
        self.requests += 1
        result = await self.inner.get(oids)
        self.varbinds += len(result)
        return result

    async def get_bulk(self, oids: Sequence[str], max_repetitions: int) -> list[tuple[str, Value]]:
        self.requests += 1
        result = await self.inner.get_bulk(oids, max_repetitions)
        self.varbinds += len(result)
        return result

    def close(self) -> None:
        self.inner.close()


def _convert(column: mib.Column, value: Value) -> Sample:
    """A raw value as its MIB kind says it must be; ValueError when it is not."""
    if column.kind == "text":
        if not isinstance(value, bytes):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return value.decode("utf-8", errors="replace").replace("\x00", "").strip()
    if column.kind == "oid":
        if not isinstance(value, bytes) or not value.startswith(b"."):
            raise ValueError(f"expected an OID, got {value!r:.40}")
        return value.decode("ascii", errors="replace")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    limit = 1 << 64 if column.kind == "counter64" else 1 << 32
    low = -(1 << 31) if column.kind == "int" else 0
    if not low <= value < limit:
        raise ValueError(f"{value} is out of range for {column.kind}")
    return value


class _Collector:
    def __init__(self, poll: SnmpPoll):
        self.poll = poll

    def convert(self, column: mib.Column, index: str, value: Value) -> Sample | None:
        try:
            if column.kind == "text" and isinstance(value, bytes):
                return self._text(column, index, value)
            if column.kind == "counter64" and isinstance(value, Counter32):
                self._narrow(column, index)
            return _convert(column, value)
        except ValueError as exc:
            if len(self.poll.problems) < MAX_PROBLEMS:
                self.poll.problems.append(f"{column.name}.{index}: {exc}")
            return None

    def _narrow(self, column: mib.Column, index: str) -> None:
        """A Counter32 in a 64-bit column: kept, with rates that wrap at 2^32 (noted once)."""
        if not self.poll.narrow_counters and len(self.poll.problems) < MAX_PROBLEMS:
            self.poll.problems.append(
                f"{column.name}.{index}: a Counter32 where the MIB says Counter64 (rates wrap "
                "at 2^32)"
            )
        self.poll.narrow_counters.add((index, column.name))

    def _text(self, column: mib.Column, index: str, value: bytes) -> str:
        """UTF-8, or (counted, and noted once per poll) Latin-1, which maps every byte."""
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            self.poll.invalid_utf8 += 1
            if self.poll.invalid_utf8 == 1 and len(self.poll.problems) < MAX_PROBLEMS:
                self.poll.problems.append(f"{column.name}.{index}: not UTF-8, read as Latin-1")
            text = value.decode("latin-1")
        return text.replace("\x00", "").strip()

    def table(
        self, columns: Sequence[mib.Column], walked: dict[str, dict[str, Value]]
    ) -> dict[str, dict[str, Sample]]:
        rows: dict[str, dict[str, Sample]] = {}
        for column in columns:
            for index, raw in walked.get(column.oid, {}).items():
                value = self.convert(column, index, raw)
                if value is not None:
                    rows.setdefault(index, {})[column.name] = value
        return rows


def _cpu_memory_columns(sys_object_id: str) -> list[mib.Column]:
    columns = [mib.HR_PROCESSOR_LOAD, *mib.HR_STORAGE]
    if sys_object_id.startswith(mib.ENTERPRISE_CISCO):
        columns += [mib.CISCO_CPU_1MIN, *mib.CISCO_MEMORY]
    elif sys_object_id.startswith(mib.ENTERPRISE_JUNIPER):
        columns += list(mib.JUNIPER_OPERATING)
    return columns


def _cpu_and_memory(collector: _Collector, walked: dict[str, dict[str, Value]]) -> None:
    poll = collector.poll
    for index, row in collector.table([mib.HR_PROCESSOR_LOAD], walked).items():
        poll.cpu.append(CpuSample(f"hr{index}", float(row["hrProcessorLoad"]), "host-resources"))
    for index, row in collector.table(mib.HR_STORAGE, walked).items():
        if row.get("hrStorageType") != mib.HR_STORAGE_RAM or "hrStorageSize" not in row:
            continue
        unit = int(row.get("hrStorageAllocationUnits", 1)) or 1
        poll.memory.append(
            MemorySample(
                name=str(row.get("hrStorageDescr", index)),
                source="host-resources",
                used_bytes=int(row.get("hrStorageUsed", 0)) * unit,
                total_bytes=int(row["hrStorageSize"]) * unit,
            )
        )
    for index, row in collector.table([mib.CISCO_CPU_1MIN], walked).items():
        poll.cpu.append(CpuSample(f"cpm{index}", float(row["cpmCPUTotal1minRev"]), "cisco"))
    for index, row in collector.table(mib.CISCO_MEMORY, walked).items():
        if "ciscoMemoryPoolUsed" in row and "ciscoMemoryPoolFree" in row:
            used, free = int(row["ciscoMemoryPoolUsed"]), int(row["ciscoMemoryPoolFree"])
            poll.memory.append(
                MemorySample(str(row.get("ciscoMemoryPoolName", index)), "cisco", used, used + free)
            )
    for index, row in collector.table(mib.JUNIPER_OPERATING, walked).items():
        descr = str(row.get("jnxOperatingDescr", ""))
        if "routing engine" not in descr.lower():
            continue
        if "jnxOperatingCPU" in row:
            poll.cpu.append(CpuSample(descr or index, float(row["jnxOperatingCPU"]), "juniper"))
        if "jnxOperatingBuffer" in row:
            total = row.get("jnxOperatingMemory")
            percent = float(row["jnxOperatingBuffer"])
            total_bytes = int(total) * 1024 * 1024 if total else None
            used_bytes = int(total_bytes * percent / 100) if total_bytes else None
            poll.memory.append(
                MemorySample(descr or index, "juniper", used_bytes, total_bytes, percent)
            )


async def _profile_scalars(
    counting: SnmpSession, profiles: list[MibProfile], known: ProfileSet, poll: SnmpPoll
) -> None:
    """GET every scalar the device's profiles name; one point per scalar group."""
    wanted = [(p, s) for p in profiles for s in p.scalars]
    oids = list(dict.fromkeys(known.oid(c) for _, s in wanted for c in s.fields))
    values: dict[str, Value] = {}
    for start in range(0, len(oids), 20):
        values.update(await counting.get(oids[start : start + 20]))
    for profile, scalar in wanted:
        row = {c.name: values.get(known.oid(c)) for c in scalar.fields}
        fields: dict[str, int | float | str] = {}
        for column in scalar.fields:
            try:
                value = convert(column, row[column.name], row)
            except (ValueError, TypeError) as exc:
                _note(poll, f"profile {profile.name}: {exc}")
                continue
            if value is None:
                _note(poll, f"profile {profile.name}: {column.oid} is not on this device")
            else:
                fields[column.name] = value
        if fields:
            poll.tables.append(TableSample(scalar.measurement, dict(scalar.constant_tags), fields))


def _note(poll: SnmpPoll, problem: str) -> None:
    if len(poll.problems) < MAX_PROBLEMS:
        poll.problems.append(problem)


def _profile_tables(
    profiles: list[MibProfile],
    known: ProfileSet,
    walked: dict[str, dict[str, Value]],
    poll: SnmpPoll,
) -> None:
    for profile in profiles:
        for table in profile.tables:
            problems: list[str] = []
            samples = table_samples(table, known, walked, problems)
            for problem in problems:
                _note(poll, f"profile {profile.name}: {problem}")
            if not samples and profile.sys_object_id:
                _note(
                    poll, f"profile {profile.name}: the device has no rows of {table.measurement}"
                )
            poll.tables.extend(samples)


async def poll_device(
    name: str,
    address: str,
    session: SnmpSession,
    max_repetitions: int,
    profile: PollProfile = FULL_PROFILE,
    mib_profiles: ProfileSet | None = None,
) -> SnmpPoll:
    """Poll one device; every outcome, including a dead device, is returned as an SnmpPoll."""
    poll = SnmpPoll(device=name, address=address, started=time.time())
    counting = _CountingSession(session)
    collector = _Collector(poll)
    began = time.perf_counter()
    try:
        system = dict(await counting.get([c.oid for c in mib.SYSTEM]))
        for column in mib.SYSTEM:
            raw = system.get(column.oid)
            if raw is not None:
                value = collector.convert(column, "0", raw)
                if value is not None:
                    poll.system[column.name] = value
        if "sysUpTime" not in poll.system:
            raise DeviceError("agent gave no valid sysUpTime")
        columns = list(profile.interfaces)
        sys_object_id = str(poll.system.get("sysObjectID", ""))
        if profile.cpu_memory:
            columns += _cpu_memory_columns(sys_object_id)
        matched: list[MibProfile] = []
        extra: list[str] = []
        if mib_profiles is not None:
            matched = mib_profiles.for_device(sys_object_id, profile.enabled)
            extra = [o for p in matched for t in p.tables for o in lookup_oids(t, mib_profiles)]
        poll.counters_at = time.time()
        walked = await walk_columns(
            counting, list(dict.fromkeys([c.oid for c in columns] + extra)), max_repetitions
        )
        poll.longest_table = max((len(rows) for rows in walked.values()), default=0)
        poll.interfaces = collector.table(profile.interfaces, walked)
        needs_32bit = any("ifHCInOctets" not in row for row in poll.interfaces.values())
        if needs_32bit or not poll.interfaces:
            walked32 = await walk_columns(
                counting, [c.oid for c in mib.IF_TABLE_32BIT], max_repetitions
            )
            for index, row in collector.table(mib.IF_TABLE_32BIT, walked32).items():
                target = poll.interfaces.setdefault(index, {})
                for key, value in row.items():
                    hc_name = next(hc for hc, low in mib.HC_FALLBACK.items() if low == key)
                    if hc_name not in target:
                        target[key] = value
        if profile.cpu_memory:
            _cpu_and_memory(collector, walked)
        if matched and mib_profiles is not None:
            _profile_tables(matched, mib_profiles, walked, poll)
            await _profile_scalars(counting, matched, mib_profiles, poll)
        poll.ok = True
    except DeviceTimeout as exc:
        poll.error, poll.timed_out = str(exc), True
    except DeviceError as exc:
        poll.error = str(exc)
    poll.duration = time.perf_counter() - began
    poll.requests, poll.varbinds = counting.requests, counting.varbinds
    return poll
