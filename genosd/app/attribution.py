"""Which inventory device sent a message: by source address, else by the name it gives."""

from __future__ import annotations

from collections.abc import Iterable

from genosd.inventory import Device


class Attribution:
    """Addresses and names that point at exactly one device (an address several devices share,
    as a lab on one host does, names none of them)."""

    def __init__(self, devices: Iterable[Device]):
        owners: dict[str, set[str]] = {}
        names: dict[str, set[str]] = {}
        for device in devices:
            addresses = {device.hostname} | ({device.snmp.address} if device.snmp else set())
            for address in addresses:
                owners.setdefault(address, set()).add(device.name)
            for name in (device.name, device.hostname):
                lowered = name.lower()
                names.setdefault(lowered, set()).add(device.name)
                short = lowered.split(".", 1)[0]
                if short != lowered and not short.isdigit():
                    names.setdefault(short, set()).add(device.name)
        self.addresses = {a: found.pop() for a, found in owners.items() if len(found) == 1}
        self.names = {n: found.pop() for n, found in names.items() if len(found) == 1}

    def device(self, source: str, *others: str | None) -> str | None:
        """The device at `source`, else the one `others` (addresses or host names) name."""
        found = self.addresses.get(source)
        if found is not None:
            return found
        for other in others:
            if not other:
                continue
            found = self.addresses.get(other) or self.names.get(other.lower())
            if found is None and "." in other:
                found = self.names.get(other.lower().split(".", 1)[0])
            if found is not None:
                return found
        return None
