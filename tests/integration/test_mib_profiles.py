"""MIB profiles on recordings of real devices (snmpsim-data): the vendors' CPU, memory and
environment tables come out as Telegraf-schema points; bad profiles are refused with file and line."""

from __future__ import annotations

import asyncio
import bz2
from pathlib import Path

import pytest
import snmpsim_data
from pydantic import SecretStr

from genosd.collectors import snmp_mibs as mib
from genosd.collectors.mib_profiles import BUILTIN_DIR, ProfileError, load_profiles
from genosd.collectors.snmp import SnmpPoll, poll_device
from genosd.collectors.snmp_client import SessionFactory
from genosd.inventory import SnmpTarget
from genosd.metrics.rates import CounterRates
from genosd.metrics.telegraf import poll_to_points
from genosd.settings_sections import SnmpCredential
from genosd.snmp.names import builtin_names
from tests.servers import snmpsim

DATA = Path(snmpsim_data.__file__).parent / "data"
RECORDINGS = {
    "huawei": "network/router/huawei-s5720",
    "procurve": "network/switch/hpe-procurve-516733-b21",
    "comware": "network/switch/h3c-comware-7-1-075",
    "icx": "network/switch/brocade-icx6430-24",
    "nxos": "network/switch/cisco-n5000",
    "arista": "cloud/arista-dcs-7150s-52-cl",
    "fortigate": "network/firewall/fortinet-xcu",
    "paloalto": "network/firewall/paloalto-pa-5000",
    "juniper": "network/router/juniper-mx960-12-3r6-6",
    "catalyst": "network/switch/cisco-c3560",
    "pdu": "UPS/apc-7902b",
    "ups": "UPS/eaton-93e-80",
}


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SnmpPoll]:
    """One poll of every recording, with the built-in profiles."""
    return asyncio.run(_poll_all(tmp_path_factory))


async def _poll_all(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SnmpPoll]:
    root = tmp_path_factory.mktemp("profiles")
    data = root / "data"
    data.mkdir()
    profiles = load_profiles([BUILTIN_DIR], builtin_names())
    # only the subtrees genosd polls: snmpsim indexes whole recordings, some of 450,000 lines
    builtin = [*mib.COLUMN_BY_NAME.values(), mib.CISCO_CPU_1MIN, *mib.CISCO_MEMORY]
    builtin += mib.JUNIPER_OPERATING
    oids = [*profiles.oids.values(), *(c.oid for c in builtin), "1.3.6.1.2.1.1"]
    wanted = tuple(f"{oid}{end}" for oid in oids for end in ".|")
    for community, recording in RECORDINGS.items():
        kept = [line for line in _recording(recording) if line.startswith(wanted)]
        (data / f"{community}.snmprec").write_text("".join(kept))
    # a FortiGate by its sysObjectID that has none of the FortiGate objects
    (data / "fakegate.snmprec").write_text(
        "1.3.6.1.2.1.1.1.0|4|not really a FortiGate\n1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.12356.101.1.1\n"
        "1.3.6.1.2.1.1.3.0|67|4200\n1.3.6.1.2.1.1.5.0|4|fakegate\n"
        "1.3.6.1.2.1.2.2.1.2.1|4|port1\n1.3.6.1.2.1.2.2.1.8.1|2|1\n"
    )
    polls: dict[str, SnmpPoll] = {}
    async with snmpsim(data, root / "cache") as port:
        factory = SessionFactory()
        for community in [*RECORDINGS, "fakegate"]:
            target = SnmpTarget(
                "127.0.0.1",
                port,
                "2c",
                SnmpCredential(community=SecretStr(community)),
                3.0,
                2,
                25,
                60,
            )
            session = factory.open(target)
            for _ in range(60):  # snmpsim indexes a recording on its first use
                poll = await poll_device(community, "127.0.0.1", session, 25, mib_profiles=profiles)
                if poll.ok:
                    break
                await asyncio.sleep(0.5)
            session.close()
            assert poll.ok, (community, poll.error)
            polls[community] = poll
    return polls


def _recording(name: str) -> list[str]:
    packed = DATA / f"{name}.snmprec.bz2"
    if packed.exists():
        with bz2.open(packed, "rt") as lines:
            return list(lines)
    return (DATA / f"{name}.snmprec").read_text().splitlines(keepends=True)


def _points(poll: SnmpPoll, measurement: str) -> list[dict]:
    return [
        {**p.tags, **p.fields}
        for p in poll_to_points(poll, CounterRates())
        if p.measurement == measurement
    ]


@pytest.mark.parametrize(
    ("device", "cpu", "memory"),
    [
        ("huawei", {"load_percent": 38.0}, {"used_percent": 7.0}),
        ("procurve", {"load_percent": 97.0}, {"total_bytes": 268435456, "used_bytes": 22247344}),
        ("comware", {"load_percent": 24.0}, None),
        ("icx", {"load_percent": 1.0}, {"total_bytes": 192286720, "used_percent": 59.0}),
        ("nxos", {"load_percent": 0.0}, {"used_percent": 29.0}),
        (
            "fortigate",
            {"load_percent": 5.0},
            {"used_percent": 19.0, "total_bytes": 66016264 * 1024},
        ),
        ("arista", {"load_percent": 13.0}, None),  # HOST-RESOURCES, polled for every device
        ("paloalto", {"load_percent": 16.0}, None),
    ],
)
def test_vendor_cpu_and_memory(polled, device, cpu, memory):
    cpus = _points(polled[device], "snmp_cpu")
    assert any(cpu.items() <= point.items() for point in cpus), cpus
    if memory is not None:
        pools = _points(polled[device], "snmp_mem")
        assert any(memory.items() <= point.items() for point in pools), pools
        assert all(0 <= p["used_percent"] <= 100 for p in pools if "used_percent" in p)
    for point in cpus:
        assert 0 <= point["load_percent"] <= 100


def test_every_recording_has_memory_from_a_profile_or_host_resources(polled):
    missing = [name for name in ("huawei", "procurve", "icx", "nxos", "fortigate", "arista", "paloalto")
               if not _points(polled[name], "snmp_mem")]  # fmt: skip
    assert missing == []


def test_environment_sessions_and_power(polled):
    temperatures = _points(polled["catalyst"], "cisco_temperature")
    assert {"sensor": "SW#1, Sensor#1, YELLOW", "celsius": 61, "state": 2}.items() <= temperatures[
        0
    ].items()
    assert _points(polled["catalyst"], "cisco_fan")[0]["state"] == 1
    components = _points(polled["juniper"], "juniper_component")
    assert any(c["component"] == "midplane" for c in components)
    assert any(c.get("celsius", 0) > 0 for c in components)
    sessions = _points(polled["paloalto"], "firewall_sessions")
    assert sessions == [
        {**sessions[0], "active": 81258, "max": 2000000, "used_percent": 4.0, "source": "paloalto"}
    ]
    banks = _points(polled["pdu"], "pdu_load")
    assert banks[0]["amperes"] == pytest.approx(1.6) and banks[0]["bank"] == "1"
    (ups,) = _points(polled["ups"], "ups")
    assert ups["charge_percent"] == 100 and ups["battery_status"] == 2
    sensors = _points(polled["arista"], "entity_sensor")
    assert sensors and all("type" in s and "descr" in s for s in sensors)
    assert {"descr": "Cpu temp sensor", "type": "celsius", "value": 28.2}.items() <= sensors[
        0
    ].items()
    celsius = [s["value"] for s in sensors if s["type"] == "celsius"]
    assert celsius and all(0 < v < 150 for v in celsius)  # scaled by precision


def test_profiles_that_do_not_match_add_nothing_and_missing_objects_are_noted(polled):
    assert not _points(polled["arista"], "snmp_cpu") or all(
        p["source"] == "host-resources" for p in _points(polled["arista"], "snmp_cpu")
    )
    assert not _points(polled["procurve"], "cisco_temperature")
    assert not any("profile" in problem for problem in polled["procurve"].problems)
    # a profile whose sysObjectID matched but whose objects the device lacks says so, and the
    # poll is still a success with its interfaces
    fake = polled["fakegate"]
    assert fake.ok and fake.interfaces["1"]["ifDescr"] == "port1"
    assert (
        "profile fortinet-cpu-memory: FORTINET-FORTIGATE-MIB::fgSysCpuUsage.0 is not on this device"
        in fake.problems
    )
    assert not _points(fake, "snmp_cpu")


def test_bad_profiles_name_file_line_and_problem(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "profiles:\n"
        "  - name: acme\n"
        "    tables:\n"
        "      - measurement: acme_fan\n"
        "        fields:\n"
        "          - {name: speed, oid: ACME-MIB::acmeFanSpeed}\n"
        "          - {name: state, oid: 1.3.6.1.4.1.99999.1.2, conversion: enum}\n"
        "          - {name: rpm, oid: 1.3.6.1.4.1.99999.1.3, decimals_from: nope}\n"
        "  - name: acme-scalars\n"
        "    scalars: [{measurement: acme, fields: [{name: x, oid: 1.3.6.1.4.1.99999.7}]}]\n"
        "  - name: acme\n"
        "    tables: []\n"
    )
    badly_named = tmp_path / "named.yaml"
    badly_named.write_text("profiles:\n  - name: acme\n    tables: []\n  - name: Bad Name\n")
    with pytest.raises(ProfileError) as caught:
        load_profiles([bad], builtin_names())
    text = str(caught.value)
    assert (
        f"{bad}:2: profile 'acme', acme_fan.speed: unknown object 'ACME-MIB::acmeFanSpeed'" in text
    )
    assert "conversion enum needs `enum:`" in text
    assert "'nope' is not a column of this table" in text
    assert f"{bad}:11: duplicate profile 'acme'" in text
    assert "a scalar's OID is an instance ending in .0" in text
    with pytest.raises(
        ProfileError, match=rf"{badly_named}:4: profiles.1.name: String should match"
    ):
        load_profiles([badly_named], builtin_names())


async def test_a_user_profile_names_objects_from_a_vendor_mib_directory(tmp_path: Path, snmpd):
    from genosd.snmp.mibtext import with_files

    mibs = Path(__file__).parent.parent / "data" / "mibs"  # net-snmp's UCD-SNMP-MIB, as shipped
    names = with_files([mibs])
    (tmp_path / "ucd.yaml").write_text(
        "profiles:\n"
        "  - name: net-snmp-load\n"
        "    sys_object_id: ['1.3.6.1.4.1.8072']\n"
        "    scalars:\n"
        "      - measurement: ucd_memory\n"
        "        fields: [{name: total_kb, oid: UCD-SNMP-MIB::memTotalReal.0}]\n"
        "    tables:\n"
        "      - measurement: ucd_load\n"
        "        tags: [{name: period, oid: laNames}]\n"
        "        fields: [{name: load, oid: UCD-SNMP-MIB::laLoad, conversion: float}]\n"
    )
    profiles = load_profiles([tmp_path / "ucd.yaml"], names)
    assert profiles.oids["UCD-SNMP-MIB::laLoad"] == "1.3.6.1.4.1.2021.10.1.3"
    target = SnmpTarget(
        "127.0.0.1", snmpd, "2c", SnmpCredential(community=SecretStr("public")), 2.0, 1, 25, 60
    )
    session = SessionFactory().open(target)
    try:
        poll = await poll_device("local", "127.0.0.1", session, 25, mib_profiles=profiles)
    finally:
        session.close()
    assert poll.ok, poll.error
    loads = {p["period"]: p["load"] for p in _points(poll, "ucd_load")}
    assert set(loads) == {"Load-1", "Load-5", "Load-15"}  # net-snmp's laNames
    assert all(value >= 0 for value in loads.values())
    (memory,) = _points(poll, "ucd_memory")
    assert memory["total_kb"] > 0
