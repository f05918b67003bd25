"""One address probed: its SNMP system group and LLDP/CDP neighbours, and its SSH banner.

SNMP is asked with each configured credential in turn until one answers; a device that answers
neither SNMP nor SSH is not there as far as discovery is concerned. Walk failures after the system
group answered (a MIB the agent lacks, a timeout half-way) are kept as notes on the sighting.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

from genosd.collectors.snmp_client import engine_credentials, walk_columns
from genosd.discovery.detect import detect
from genosd.errors import DeviceError
from genosd.settings_discovery import DiscoverySettings
from genosd.settings_sections import SnmpCredential
from genosd.snmp.ber import Value
from genosd.snmp.client import SnmpClient

SYS_DESCR, SYS_OBJECT_ID, SYS_NAME = (
    "1.3.6.1.2.1.1.1.0",
    "1.3.6.1.2.1.1.2.0",
    "1.3.6.1.2.1.1.5.0",
)
LLDP_REM = "1.0.8802.1.1.2.1.4.1.1"  # lldpRemTable: timeMark.localPortNum.remIndex
LLDP_REM_PORT_ID, LLDP_REM_PORT_DESC, LLDP_REM_SYS_NAME = (
    f"{LLDP_REM}.7",
    f"{LLDP_REM}.8",
    f"{LLDP_REM}.9",
)
LLDP_REM_SYS_DESC = f"{LLDP_REM}.10"
# lldpRemManAddrIfSubtype: the address is in the index (…remIndex.family.length.bytes)
LLDP_REM_MAN_ADDR = "1.0.8802.1.1.2.1.4.2.1.3"
LLDP_LOC_PORT_ID, LLDP_LOC_PORT_DESC = "1.0.8802.1.1.2.1.3.7.1.3", "1.0.8802.1.1.2.1.3.7.1.4"
CDP_CACHE = "1.3.6.1.4.1.9.9.23.1.2.1.1"  # cdpCacheTable: ifIndex.deviceIndex
CDP_ADDRESS_TYPE, CDP_ADDRESS, CDP_DEVICE_ID, CDP_DEVICE_PORT, CDP_PLATFORM = (
    f"{CDP_CACHE}.3",
    f"{CDP_CACHE}.4",
    f"{CDP_CACHE}.6",
    f"{CDP_CACHE}.7",
    f"{CDP_CACHE}.8",
)
IF_NAME, IF_DESCR = "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2"
BANNER_LIMIT = 255  # RFC 4253: the identification line is at most 255 characters


@dataclass(frozen=True)
class Neighbor:
    """A device another one names as its LLDP or CDP neighbour."""

    local_interface: str
    name: str
    interface: str
    address: str | None
    description: str
    protocol: str  # lldp | cdp


@dataclass
class Sighting:
    """What answered at one address."""

    address: str
    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    banner: str | None = None
    credential: str | None = None
    version: str | None = None
    os: str | None = None
    platform: str | None = None
    neighbors: list[Neighbor] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """Whether SNMP or SSH answered at all."""
        return self.credential is not None or self.banner is not None


def _text(value: Value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip().strip("\x00")
    return "" if value is None else str(value)


async def probe(
    address: str, settings: DiscoverySettings, credentials: dict[str, SnmpCredential]
) -> Sighting:
    """Probe one address over SNMP (each credential in turn) and read its SSH banner."""
    sighting = Sighting(address)
    banner = asyncio.ensure_future(read_banner(address, settings.ssh_port, settings.timeout))
    for name in settings.credentials:
        credential = credentials[name.lower()]
        client = SnmpClient(
            address,
            settings.snmp_port,
            engine_credentials(credential, "3" if credential.username else "2c"),
            settings.timeout,
            settings.retries,
        )
        try:
            values = dict(await client.get([SYS_DESCR, SYS_OBJECT_ID, SYS_NAME]))
        except DeviceError:
            client.close()
            continue
        sighting.credential, sighting.version = name, client.credentials.version
        sighting.sys_descr = _text(values.get(SYS_DESCR)) or None
        sighting.sys_object_id = _text(values.get(SYS_OBJECT_ID)).lstrip(".") or None
        sighting.sys_name = _text(values.get(SYS_NAME)) or None
        try:
            sighting.neighbors = await neighbors(client, sighting.notes)
        finally:
            client.close()
        break
    sighting.banner = await banner
    sighting.os, sighting.platform = detect(
        sighting.sys_object_id, sighting.sys_descr, sighting.banner
    )
    return sighting


async def read_banner(address: str, port: int, timeout: float) -> str | None:
    """The SSH server's identification line (`SSH-2.0-…`), or None when nothing SSH answers."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port)
            try:
                # servers may send other lines before the identification (RFC 4253 4.2)
                for _ in range(5):
                    line = await reader.readline()
                    if not line:
                        return None
                    text = line[:BANNER_LIMIT].decode("ascii", "replace").strip()
                    if text.startswith("SSH-"):
                        return text
                return None
            finally:
                writer.close()
    except (OSError, TimeoutError, ValueError):
        return None


async def neighbors(client: SnmpClient, notes: list[str]) -> list[Neighbor]:
    """The LLDP and CDP neighbours the agent reports (what it lacks is a note, not a failure)."""
    found: list[Neighbor] = []
    try:
        lldp = await walk_columns(
            client,
            [
                LLDP_REM_PORT_ID,
                LLDP_REM_PORT_DESC,
                LLDP_REM_SYS_NAME,
                LLDP_REM_SYS_DESC,
                LLDP_REM_MAN_ADDR,
                LLDP_LOC_PORT_ID,
                LLDP_LOC_PORT_DESC,
            ],
            25,
        )
        found.extend(_lldp(lldp))
    except DeviceError as exc:
        notes.append(f"LLDP-MIB walk failed: {exc}")
    try:
        cdp = await walk_columns(
            client,
            [CDP_ADDRESS_TYPE, CDP_ADDRESS, CDP_DEVICE_ID, CDP_DEVICE_PORT, CDP_PLATFORM],
            25,
        )
        if cdp[CDP_DEVICE_ID]:
            names = await walk_columns(client, [IF_NAME, IF_DESCR], 25)
            found.extend(_cdp(cdp, names))
    except DeviceError as exc:
        notes.append(f"CISCO-CDP-MIB walk failed: {exc}")
    return found


def _lldp(table: dict[str, dict[str, Value]]) -> list[Neighbor]:
    addresses: dict[str, str] = {}
    for index in table[LLDP_REM_MAN_ADDR]:
        key, address = _man_address(index)
        if key is not None and address is not None:
            addresses.setdefault(key, address)
    found = []
    for index, name in table[LLDP_REM_SYS_NAME].items():
        parts = index.split(".")
        if len(parts) < 3:
            continue
        local_port = parts[1]
        local = _text(table[LLDP_LOC_PORT_DESC].get(local_port)) or _text(
            table[LLDP_LOC_PORT_ID].get(local_port)
        )
        remote = _text(table[LLDP_REM_PORT_DESC].get(index)) or _port_id(
            table[LLDP_REM_PORT_ID].get(index)
        )
        found.append(
            Neighbor(
                local or local_port,
                _text(name),
                remote,
                addresses.get(".".join(parts[:3])),
                _text(table[LLDP_REM_SYS_DESC].get(index)),
                "lldp",
            )
        )
    return found


def _port_id(value: Value) -> str:
    """A port ID as text; a MAC address (6 raw bytes) as colon-separated hex."""
    if isinstance(value, bytes) and len(value) == 6 and not value.isascii():
        return ":".join(f"{b:02x}" for b in value)
    return _text(value)


def _man_address(index: str) -> tuple[str | None, str | None]:
    """(timeMark.localPort.remIndex, address) from an lldpRemManAddrTable index."""
    parts = index.split(".")
    if len(parts) < 6:
        return None, None
    family, length, raw = parts[3], int(parts[4]), parts[5:]
    try:
        packed = bytes(int(p) for p in raw[:length])
        if family == "1" and length == 4:
            return ".".join(parts[:3]), str(ipaddress.IPv4Address(packed))
        if family == "2" and length == 16:
            return ".".join(parts[:3]), str(ipaddress.IPv6Address(packed))
    except ValueError:
        pass
    return ".".join(parts[:3]), None


def _cdp(table: dict[str, dict[str, Value]], names: dict[str, dict[str, Value]]) -> list[Neighbor]:
    found = []
    for index, device_id in table[CDP_DEVICE_ID].items():
        if_index = index.split(".")[0]
        local = _text(names[IF_NAME].get(if_index)) or _text(names[IF_DESCR].get(if_index))
        address = None
        raw = table[CDP_ADDRESS].get(index)
        if table[CDP_ADDRESS_TYPE].get(index) == 1 and isinstance(raw, bytes) and len(raw) == 4:
            address = str(ipaddress.IPv4Address(raw))
        found.append(
            Neighbor(
                local or if_index,
                _text(device_id),
                _text(table[CDP_DEVICE_PORT].get(index)),
                address,
                _text(table[CDP_PLATFORM].get(index)),
                "cdp",
            )
        )
    return found
