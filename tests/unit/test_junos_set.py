"""Curly-brace Junos turned into the set lines `show configuration | display set` prints."""

from __future__ import annotations

from genosd.config.junos_set import curly_to_set, is_curly

CURLY = """## Last commit: 2026-11-20 10:00:00 UTC by admin
version 23.2R1.13;
system {
    host-name mx1;
    /* the management services */
    services {
        ssh {
            root-login deny;
        }
        inactive: telnet;
    }
    syslog {
        host 10.10.50.10 {
            any notice;
        }
    }
    login {
        message "Authorized { only }; keep out";
    }
}
interfaces {
    ge-0/0/0 {
        description "transit ISP-A";
        unit 0 {
            family ethernet-switching {
                vlan {
                    members [ v10 v20 ];
                }
            }
        }
    }
}
snmp {
    community ro-comm {
        authorization read-only; ## SECRET-DATA
    }
}
"""


def test_curly_junos_becomes_its_set_lines():
    assert is_curly(CURLY) and not is_curly("set system host-name mx1\n")
    assert curly_to_set(CURLY).splitlines() == [
        "set version 23.2R1.13",
        "set system host-name mx1",
        "set system services ssh root-login deny",
        "set system syslog host 10.10.50.10 any notice",
        'set system login message "Authorized { only }; keep out"',
        'set interfaces ge-0/0/0 description "transit ISP-A"',
        "set interfaces ge-0/0/0 unit 0 family ethernet-switching vlan members v10",
        "set interfaces ge-0/0/0 unit 0 family ethernet-switching vlan members v20",
        "set snmp community ro-comm authorization read-only",
    ]  # the inactive telnet is not in effect: left out
