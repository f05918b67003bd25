"""Platform data: telling a device's refusal from output that merely quotes such words."""

from __future__ import annotations

import pytest

from genosd.lab.eos_device import EosDevice
from genosd.lab.ios_device import IosDevice
from genosd.lab.junos_device import SYNTAX, UNKNOWN
from genosd.lab.nxos_device import NxosDevice
from genosd.platforms import platform


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("ios", IosDevice.invalid),
        ("eos", EosDevice.invalid),
        ("nxos", NxosDevice.invalid),
        ("junos", SYNTAX),
        ("junos", UNKNOWN),
    ],
)
def test_each_platform_recognises_its_own_refusal(name: str, refusal: str):
    assert platform(name).refused(refusal)
    assert not platform(name).refused("hostname r1\ninterface Loopback0\n ip address 10.0.0.1\n")


def test_config_text_quoting_a_refusal_is_not_one():
    config = "\n".join(
        [
            "set system host-name rj1",
            "set system domain-name lab",
            "set system ntp server 10.0.0.1",
            'set interfaces ge-0/0/0 description "syntax error drills"',
        ]
    )
    assert not platform("junos").refused(config)
    assert platform("ios").refused("% Invalid input detected at '^' marker.\n")
