"""OID names: the built-in table, longest-prefix lookup, and user files with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from genosd.errors import ConfigError
from genosd.snmp.names import MibNames, builtin_names


def test_builtin_names_resolve_objects_instances_and_notifications():
    names = builtin_names()
    assert str(names.lookup("1.3.6.1.2.1.2.2.1.8.12")) == "IF-MIB::ifOperStatus.12"
    assert str(names.lookup("1.3.6.1.6.3.1.1.5.3")) == "IF-MIB::linkDown"
    assert names.label("1.3.6.1.2.1.15.3.1.2.192.0.2.1") == "bgpPeerState.192.0.2.1"
    assert names.lookup("1.3.6.1.4.1.99999.1") is None
    assert names.label("1.3.6.1.4.1.99999.1") == "1.3.6.1.4.1.99999.1"


def test_user_files_add_names_and_bad_ones_name_the_problem(tmp_path: Path):
    good = tmp_path / "acme.yaml"
    good.write_text("ACME-MIB:\n  acmeFanFailure: 1.3.6.1.4.1.99999.0.1\n")
    names = MibNames()
    names.add_file(good)
    assert str(names.lookup("1.3.6.1.4.1.99999.0.1")) == "ACME-MIB::acmeFanFailure"
    bad = tmp_path / "bad.yaml"
    bad.write_text("ACME-MIB:\n  acmeFan: 1.3.x.1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*ACME-MIB::acmeFan.*not an OID"):
        names.add_file(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("ACME-MIB: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        names.add_file(broken)


def test_a_bad_names_file_in_the_settings_refuses_the_snapshot(tmp_path: Path):
    from genosd.app.snapshot import Sources, load_snapshot

    bad = tmp_path / "names.yaml"
    bad.write_text("ACME-MIB:\n  acmeFan: not-an-oid\n")
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nmib_paths: [{bad}]\n")
    with pytest.raises(ConfigError, match=r"names\.yaml.*acmeFan"):
        load_snapshot(Sources(config))
    bad.write_text("ACME-MIB:\n  acmeFan: 1.3.6.1.4.1.99999.1\n")
    snapshot = load_snapshot(Sources(config))
    assert snapshot.mib_names.label("1.3.6.1.4.1.99999.1.0") == "acmeFan.0"
    assert snapshot.mib_names.label("1.3.6.1.6.3.1.1.5.3") == "linkDown"  # built-ins kept


def test_unknown_profiles_and_bad_profile_files_refuse_the_snapshot(tmp_path: Path):
    from genosd.app.snapshot import Sources, load_snapshot

    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\npoller:\n  profiles: [entity-sensor, nope]\n"
    )
    with pytest.raises(ConfigError, match=r"poller\.profiles names unknown MIB profiles: nope"):
        load_snapshot(Sources(config))
    extra = tmp_path / "profiles"
    extra.mkdir()
    (extra / "acme.yaml").write_text(
        "profiles:\n  - name: acme\n    tables:\n      - measurement: acme\n"
        "        fields: [{name: fan, oid: ACME-MIB::acmeFan}]\n"
    )
    config.write_text(f"state_dir: {tmp_path / 'state'}\npoller:\n  profile_paths: [{extra}]\n")
    with pytest.raises(
        ConfigError, match=r"acme\.yaml:2: profile 'acme', acme\.fan: unknown object"
    ):
        load_snapshot(Sources(config))
    (extra / "acme.yaml").write_text(
        "profiles:\n  - name: acme\n    sys_object_id: ['1.3.6.1.4.1.99999']\n    tables:\n"
        "      - measurement: acme\n        fields: [{name: fan, oid: 1.3.6.1.4.1.99999.1.1}]\n"
    )
    snapshot = load_snapshot(Sources(config))
    names = [p.name for p in snapshot.mib_profiles.for_device(".1.3.6.1.4.1.99999.7")]
    assert names == ["entity-sensor", "bgp4-peers", "acme"]


def test_mib_source_files_forms_and_errors(tmp_path: Path):
    from genosd.snmp.mibtext import load_mib_dir

    (tmp_path / "ACME.my").write_text(
        "ACME-SMI DEFINITIONS ::= BEGIN\n"
        "IMPORTS enterprises FROM RFC1155-SMI;\n"
        "acme OBJECT IDENTIFIER ::= { enterprises 99999 } -- the vendor root\n"
        "acmeLab OBJECT IDENTIFIER ::= { iso(1) org(3) dod(6) internet(1) private(4) 1 99998 }\n"
        "END\n"
        "ACME-MIB DEFINITIONS ::= BEGIN\n"
        "-- acmeCommented OBJECT IDENTIFIER ::= { acme 7 }\n"
        "acmeFanRpm OBJECT-TYPE SYNTAX INTEGER ACCESS read-only STATUS mandatory\n"
        '    DESCRIPTION "rpm ::= not an assignment" ::= { acmeFanEntry 3 }\n'
        "acmeFanEntry OBJECT-TYPE SYNTAX AcmeFanEntry ACCESS not-accessible STATUS mandatory\n"
        "    ::= { acmeFanTable 1 }\n"
        "acmeFanTable OBJECT-TYPE SYNTAX SEQUENCE OF AcmeFanEntry ACCESS not-accessible\n"
        "    STATUS mandatory ::= { acme 1 }\n"
        "acmeFanFailure TRAP-TYPE ENTERPRISE acme VARIABLES { acmeFanRpm } ::= 5\n"
        "orphan OBJECT IDENTIFIER ::= { nowhere 1 }\n"
        "END\n"
    )
    names = MibNames()
    assert load_mib_dir(tmp_path, names) == 6
    assert (
        names.oid_of("ACME-MIB::acmeFanRpm") == "1.3.6.1.4.1.99999.1.1.3"
    )  # parents defined later
    assert names.oid_of("acmeLab") == "1.3.6.1.4.1.99998"
    assert names.oid_of("acmeFanFailure") == "1.3.6.1.4.1.99999.0.5"  # SMIv1 trap: enterprise.0.n
    assert names.oid_of("acmeCommented") is None and names.oid_of("orphan") is None
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README").write_text("no MIB here\n")
    with pytest.raises(ConfigError, match="no MIB module"):
        load_mib_dir(empty, MibNames())
