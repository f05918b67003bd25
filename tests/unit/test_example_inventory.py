"""The example inventory (inventory/example) loads, with the credentials it names defined."""

from __future__ import annotations

from pathlib import Path

from genosd.inventory import load_inventory
from genosd.settings import GenosdSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "inventory" / "example"


def test_the_example_inventory_loads():
    settings = GenosdSettings.model_validate(
        {
            "credentials": {
                "ro-v2c": {"community": "example"},
                "ro-v3": {"username": "genosd", "auth_protocol": "SHA", "auth_key": "example-auth"},
            },
            "ssh_credentials": {"netops": {"username": "netops", "password": "example"}},
        }
    )
    inventory = load_inventory(EXAMPLE, settings)
    core = inventory.devices["core-1"]
    assert (core.site, core.role, core.groups[0]) == ("fra1", "core", "core")
    assert inventory.devices["core-2"].snmp is not None
    assert inventory.devices["core-2"].snmp.version == "3"
    assert {d.platform for d in inventory.devices.values()} == {"ios", "junos", "eos", "nxos"}
