"""The SNMP half of the lab: snmpsim serving recordings of real devices, with counters that move.

Recordings come from snmpsim-data. Interface octet and packet counters and sysUpTime are rewritten
to snmpsim's `numeric` variation (value = recorded value + rate x seconds since the agent started,
wrapping like the real counter), so consecutive polls see traffic and 32-bit counters do wrap.
"""

from __future__ import annotations

import bz2
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_IF_COUNTERS = {
    # column OID prefix: share of the interface's byte rate (octets) or packet rate (packets)
    "1.3.6.1.2.1.2.2.1.10.": ("octets", 1.0),
    "1.3.6.1.2.1.2.2.1.16.": ("octets", 0.6),
    "1.3.6.1.2.1.31.1.1.1.6.": ("octets", 1.0),
    "1.3.6.1.2.1.31.1.1.1.10.": ("octets", 0.6),
    "1.3.6.1.2.1.2.2.1.11.": ("packets", 1.0),
    "1.3.6.1.2.1.2.2.1.17.": ("packets", 0.6),
    "1.3.6.1.2.1.31.1.1.1.7.": ("packets", 1.0),
    "1.3.6.1.2.1.31.1.1.1.11.": ("packets", 0.6),
}
_LINE = re.compile(r"^(?P<oid>[0-9.]+)\|(?P<tag>65|70|67)\|(?P<value>\d+)$")
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@dataclass(frozen=True)
class LabSnmpDevice:
    """One simulated device: its inventory name, the recording it replays, platform and role."""

    name: str
    recording: str
    platform: str
    role: str
    version: str = "2c"


LAB_SNMP_DEVICES = (
    LabSnmpDevice("lab-ios-sw1", "network/switch/cisco-c3560", "ios", "access"),
    LabSnmpDevice("lab-junos-r1", "network/router/juniper-mx960-13-3r9-13", "junos", "core"),
    LabSnmpDevice("lab-eos-sw1", "cloud/arista-dcs-7150s-52-cl", "eos", "distribution"),
    LabSnmpDevice("lab-linux-1", "os/linux/unknown-001", "linux", "server", version="3"),
    # an older device with 32-bit ifTable counters only (no ifXTable HC counters)
    LabSnmpDevice("lab-ubnt-ap1", "network/wifi/ubiquiti-m5", "airos", "wireless"),
)


def interface_byte_rate(index: int) -> int:
    """Bytes per second the lab moves on an interface: 1-7 MB/s, so a Counter32 wraps in minutes."""
    return 1_000_000 * (1 + index % 7)


def recording_path(recording: str) -> Path:
    """The snmpsim-data file for a recording name."""
    base = Path(str(resources.files("snmpsim_data"))) / "data"
    for suffix in (".snmprec.bz2", ".snmprec"):
        candidate = base / (recording + suffix)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"snmpsim-data has no recording {recording!r}")


def make_counters_move(lines: list[str]) -> list[str]:
    """Rewrite interface counters and sysUpTime of a recording to the `numeric` variation."""
    out = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            out.append(line)
            continue
        oid, tag, value = match["oid"], match["tag"], match["value"]
        if oid == SYS_UPTIME and tag == "67":
            out.append(f"{oid}|67:numeric|initial={value},rate=100,wrap=1")
            continue
        for prefix, (kind, share) in _IF_COUNTERS.items():
            if oid.startswith(prefix) and tag in ("65", "70"):
                index = int(oid[len(prefix) :].split(".")[0])
                rate = interface_byte_rate(index) * share
                if kind == "packets":
                    rate /= 500
                out.append(f"{oid}|{tag}:numeric|initial={value},rate={rate:.1f},wrap=1")
                break
        else:
            out.append(line)
    return out


def write_lab_recording(device: LabSnmpDevice, data_dir: Path) -> Path:
    """Write the moving-counter copy of a device's recording; the file name is its community."""
    source = recording_path(device.recording)
    raw = bz2.decompress(source.read_bytes()) if source.suffix == ".bz2" else source.read_bytes()
    lines = raw.decode("utf-8", errors="replace").splitlines()
    target = data_dir / f"{device.name}.snmprec"
    data_dir.mkdir(parents=True, exist_ok=True)
    text = "\n".join(make_counters_move(lines)) + "\n"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


IF_DESCR, IF_OPER, IF_NAME = (
    "1.3.6.1.2.1.2.2.1.2.",
    "1.3.6.1.2.1.2.2.1.8.",
    "1.3.6.1.2.1.31.1.1.1.1.",
)


def set_link(recording: Path, interface: str, up: bool) -> int:
    """Take a simulated device's interface down or up: its ifOperStatus in the recording
    snmpsim serves (it re-reads a changed file; ifAdminStatus stays, as when the far end of a
    cable goes away). The interface by ifName, ifDescr or ifIndex; its ifIndex; ValueError when
    the recording has no such interface."""
    lines = recording.read_text().splitlines()
    index = None
    for line in lines:
        oid, _, rest = line.partition("|")
        value = rest.partition("|")[2]
        for prefix in (IF_NAME, IF_DESCR):
            if oid.startswith(prefix) and _text_value(rest.partition("|")[0], value) == interface:
                index = oid[len(prefix) :]
        if index is not None:
            break
    if index is None and interface.isdigit():
        index = interface
    target = f"{IF_OPER}{index}"
    found = False
    for number, line in enumerate(lines):
        if line.split("|", 1)[0] == target:
            lines[number] = f"{target}|2|{1 if up else 2}"
            found = True
    if not found:
        raise ValueError(f"{recording.stem} has no interface {interface!r}")
    partial = recording.with_suffix(".partial")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(recording)
    return int(str(index))


def _text_value(tag: str, value: str) -> str:
    """An OCTET STRING value of a recording line (hex-encoded ones, tag `4x`, decoded)."""
    if tag == "4x":
        try:
            return bytes.fromhex(value).decode("utf-8", "replace")
        except ValueError:
            return value
    return value
