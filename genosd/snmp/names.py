"""OID names from MIBs: `IF-MIB::ifOperStatus.3` for 1.3.6.1.2.1.2.2.1.8.3.

The built-in table (mibnames.yaml, beside this module) names the common notifications and the
objects they carry; more names are added from files of the same form (module -> {name: OID}).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from genosd.errors import ConfigError


@dataclass(frozen=True)
class OidName:
    """A resolved OID: the MIB module, the object's name and the instance after it."""

    module: str
    name: str
    index: str = ""  # the arcs after the named object ("" when the OID is the object itself)

    def __str__(self) -> str:
        return f"{self.module}::{self.name}" + (f".{self.index}" if self.index else "")


class MibNames:
    """OID -> name, by the longest known prefix."""

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, str]] = {}

    def copy(self) -> MibNames:
        """A copy to add more names to, leaving this one as it is."""
        other = MibNames()
        other._names = dict(self._names)
        return other

    def add(self, module: str, name: str, oid: str) -> None:
        """Know one more name."""
        self._names[oid.strip(".")] = (module, name)

    def add_file(self, path: Path | str, text: str | None = None) -> None:
        """Names from a YAML file of module -> {name: OID}; ConfigError naming the problem."""
        try:
            data = yaml.safe_load(text if text is not None else Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read MIB names: {exc}", source=str(path)) from None
        if not isinstance(data, dict):
            raise ConfigError("expected module: {name: OID}", source=str(path))
        for module, objects in data.items():
            if not isinstance(objects, dict):
                raise ConfigError(f"{module}: expected {{name: OID}}", source=str(path))
            for name, oid in objects.items():
                if not isinstance(oid, str) or not all(a.isdigit() for a in oid.split(".")):
                    raise ConfigError(f"{module}::{name}: {oid!r} is not an OID", source=str(path))
                self.add(str(module), str(name), oid)

    def oid_of(self, name: str) -> str | None:
        """The OID of `MODULE::object`, `object` (when one module has it), either followed by an
        instance (`sysUpTime.0`), or of a numeric OID."""
        name = name.strip().lstrip(".")
        if name and all(arc.isdigit() for arc in name.split(".")):
            return name
        module, _, rest = name.rpartition("::")
        object_name, _, instance = rest.partition(".")
        if instance and not all(arc.isdigit() for arc in instance.split(".")):
            return None
        found = [
            oid
            for oid, (mod, obj) in self._names.items()
            if obj == object_name and (not module or mod == module)
        ]
        if len(found) != 1:
            return None
        return f"{found[0]}.{instance}" if instance else found[0]

    def lookup(self, oid: str) -> OidName | None:
        """The name of `oid` or of its longest named prefix; None when nothing is known."""
        arcs = oid.strip(".").split(".")
        for end in range(len(arcs), 0, -1):
            found = self._names.get(".".join(arcs[:end]))
            if found is not None:
                return OidName(found[0], found[1], ".".join(arcs[end:]))
        return None

    def label(self, oid: str) -> str:
        """`name.index` when known (the module left out), else the OID itself."""
        found = self.lookup(oid)
        if found is None:
            return oid
        return found.name + (f".{found.index}" if found.index else "")


@lru_cache(maxsize=1)
def builtin_names() -> MibNames:
    """The names shipped with genosd."""
    names = MibNames()
    resource = resources.files("genosd.snmp").joinpath("mibnames.yaml")
    names.add_file("genosd/snmp/mibnames.yaml", resource.read_text())
    return names
