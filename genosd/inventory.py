"""The device inventory: Nornir SimpleInventory files, validated, resolved into Device records.

Files live in one directory: hosts.yaml, groups.yaml (optional), defaults.yaml (optional), in Nornir's
SimpleInventory format. Per-device settings under `data.snmp` merge like Nornir data does: the host
first, then its groups in order (and their parent groups), then defaults. Credentials are never in
these files: `data.snmp.credential` names an entry of the settings' `credentials` section.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genosd.errors import InventoryError, NotFoundError
from genosd.platforms import Platform, load_platforms
from genosd.settings import GenosdSettings
from genosd.settings_sections import SnmpCredential
from genosd.ssh.target import SshTarget
from genosd.yamlfile import YamlDocument, describe_validation_error, load_yaml, release

SECRET_KEYS = frozenset(
    {"password", "secret", "community", "auth_key", "priv_key", "authkey", "privkey", "token"}
)


class SnmpOptions(BaseModel):
    """The `data.snmp` block of a host, group or the defaults (all fields optional there)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    version: Literal["1", "2c", "3"] | None = None
    credential: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    timeout: float | None = Field(None, gt=0, le=60)
    retries: int | None = Field(None, ge=0, le=10)
    max_repetitions: int | None = Field(None, ge=1, le=200)
    interval: float | None = Field(None, ge=1)
    context: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class SshOptions(BaseModel):
    """The `data.ssh` block of a host, group or the defaults (all fields optional there)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    credential: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    timeout: float | None = Field(None, gt=0, le=600)


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")

    snmp: SnmpOptions | None = None
    ssh: SshOptions | None = None
    tags: list[str] = []
    site: str | None = None
    role: str | None = None
    poller_group: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$")


class _Element(BaseModel):
    """A host, group or defaults entry as Nornir's SimpleInventory reads it."""

    model_config = ConfigDict(extra="forbid")

    hostname: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    username: str | None = None
    platform: str | None = None
    groups: list[str] = []
    data: _Data = _Data()
    connection_options: dict[str, Any] = {}


@dataclass(frozen=True)
class SnmpTarget:
    """Everything the poller needs to reach one device over SNMP."""

    address: str
    port: int
    version: Literal["1", "2c", "3"]
    credential: SnmpCredential
    timeout: float
    retries: int
    max_repetitions: int
    interval: float
    context: str = ""


@dataclass(frozen=True)
class Device:
    """One inventory host, resolved."""

    name: str
    hostname: str
    platform: str | None
    groups: tuple[str, ...]
    tags: tuple[str, ...]
    site: str | None = None
    role: str | None = None
    poller_group: str = "default"  # which cluster nodes may poll it (cluster.poller_groups)
    snmp: SnmpTarget | None = None
    ssh: SshTarget | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    # the platform's data, resolved once from `platform` (None: a platform genosd does not know)
    profile: Platform | None = None

    def __post_init__(self) -> None:
        if self.profile is None and self.platform is not None:
            object.__setattr__(self, "profile", load_platforms().get(self.platform))

    def matches(self, filters: Mapping[str, str]) -> bool:
        """True when every `key=value` filter matches (name, group, tag, platform, site, role)."""
        for key, wanted in filters.items():
            if key == "name" and self.name != wanted:
                return False
            if key == "group" and wanted not in self.groups:
                return False
            if key == "tag" and wanted not in self.tags:
                return False
            if key in ("platform", "site", "role") and getattr(self, key) != wanted:
                return False
        return True


FILTER_KEYS = ("name", "group", "tag", "platform", "site", "role")


def parse_filters(expressions: Iterable[str]) -> dict[str, str]:
    """Turn `group=core tag=lab` style expressions into a filter mapping."""
    filters: dict[str, str] = {}
    for expression in expressions:
        key, sep, value = expression.partition("=")
        if not sep or key not in FILTER_KEYS or not value:
            raise InventoryError(
                f"bad filter {expression!r}: use KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}"
            )
        filters[key] = value
    return filters


@dataclass
class Inventory:
    """The resolved devices plus the documents they came from."""

    directory: Path
    devices: dict[str, Device]
    groups: dict[str, list[str]]

    def device(self, name: str) -> Device:
        """The device called `name`, or NotFoundError."""
        device = self.devices.get(name)
        if device is None:
            raise NotFoundError(f"no device {name!r}")
        return device

    def select(self, filters: Mapping[str, str] | None = None) -> list[Device]:
        """Devices matching all filters, in name order."""
        ordered = self.ordered
        return [d for d in ordered if d.matches(filters)] if filters else list(ordered)

    @functools.cached_property
    def ordered(self) -> tuple[Device, ...]:
        """Every device in name order (an inventory is never changed in place)."""
        return tuple(d for _, d in sorted(self.devices.items()))


def _find_secret_keys(value: Any, path: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    found: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS:
                found.append((*path, key))
            found.extend(_find_secret_keys(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_find_secret_keys(item, (*path, index)))
    return found


def _without_keys(value: Any, paths: list[tuple[str | int, ...]]) -> Any:
    """A copy of `value` with the given key paths removed."""
    if not paths:
        return value
    here = {p[0] for p in paths if len(p) == 1}
    if isinstance(value, dict):
        return {
            k: _without_keys(v, [p[1:] for p in paths if len(p) > 1 and p[0] == k])
            for k, v in value.items()
            if k not in here
        }
    if isinstance(value, list):
        return [
            _without_keys(v, [p[1:] for p in paths if len(p) > 1 and p[0] == i])
            for i, v in enumerate(value)
        ]
    return value


def _load_elements(doc: YamlDocument, *, single: bool) -> tuple[dict[str, _Element], list[str]]:
    """The hosts, groups or defaults of one file, and every problem found in it."""
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        return {}, [f"{doc.path}: must be a mapping"]
    secrets = _find_secret_keys(data, ())
    problems = [
        f"{doc.where(p)}: {'.'.join(map(str, p))}: credentials do not belong in inventory files; "
        "name a settings credential in data.snmp.credential and keep its secrets in env or "
        "the secrets directory"
        for p in secrets
    ]
    data = _without_keys(data, secrets)  # so the same key is not reported twice
    elements: dict[str, _Element] = {}
    if single:
        try:
            elements["defaults"] = _Element.model_validate(data)
        except ValidationError as exc:
            problems.extend(describe_validation_error(exc, [doc]))
    else:
        for name, raw in data.items():
            try:
                elements[str(name)] = _Element.model_validate(raw if raw is not None else {})
            except ValidationError as exc:
                problems.extend(describe_validation_error(exc, [doc], prefix=(name,)))
    return elements, problems


def _group_chain(
    name: str, groups: Mapping[str, _Element], seen: tuple[str, ...] = ()
) -> list[str]:
    """A group and its parents, depth first, the order Nornir resolves data in."""
    if name in seen:
        raise InventoryError(f"group cycle: {' -> '.join((*seen, name))}")
    chain = [name]
    for parent in groups[name].groups:
        if parent in groups:  # an unknown parent is reported on its own
            chain.extend(_group_chain(parent, groups, (*seen, name)))
    return chain


def _merged_ssh(layers: list[_Element]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        if layer.data.ssh is not None:
            merged.update(layer.data.ssh.model_dump(exclude_none=True))
    return merged


def _ssh_target(
    name: str, hostname: str, platform: str | None, ssh: dict[str, Any], settings: GenosdSettings
) -> SshTarget | str | None:
    """The device's SSH target, None when it has no SSH, or the problem as text."""
    if not ssh.get("enabled", True) or not ssh.get("credential"):
        return None
    credential = settings.ssh_credentials.get(ssh["credential"].lower())
    if credential is None:
        return (
            f"{name}: SSH credential {ssh['credential']!r} is not defined in settings "
            "(ssh_credentials.<name>, GENOSD_SSH_CREDENTIALS__<NAME>__…, or the secrets dir)"
        )
    known = load_platforms()
    if platform is None or platform not in known:
        return (
            f"{name}: platform {platform!r} has no SSH support; known: {', '.join(sorted(known))}"
        )
    enable = credential.enable_secret.get_secret_value() if credential.enable_secret else None
    return SshTarget(
        name,
        hostname,
        ssh.get("port", 22),
        known[platform],
        credential.username,
        credential.password.get_secret_value(),
        enable,
        ssh.get("timeout", settings.ssh.timeout),
    )


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merged_data(layers: list[_Element]) -> dict[str, Any]:
    """`data` merged defaults → groups → host (nearer wins; mappings merge, lists replace)."""
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        merged = _deep_merge(
            merged, layer.data.model_dump(exclude_unset=True, exclude={"snmp", "ssh"})
        )
    return merged


def _merged_snmp(layers: list[_Element]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in reversed(layers):  # lowest precedence first, so later updates win
        if layer.data.snmp is not None:
            merged.update(layer.data.snmp.model_dump(exclude_none=True))
    return merged


def _read_file(path: Path, problems: list[str]) -> YamlDocument | None:
    try:
        return load_yaml(path, error=InventoryError)
    except InventoryError as exc:
        problems.append(str(exc))
        return None


def load_inventory(directory: Path, settings: GenosdSettings) -> Inventory:
    """Read and validate an inventory directory; InventoryError lists every problem, file:line."""
    hosts_file = directory / "hosts.yaml"
    if not hosts_file.is_file():
        raise InventoryError("hosts.yaml not found", source=str(directory))
    problems: list[str] = []
    hosts_doc = _read_file(hosts_file, problems)
    hosts: dict[str, _Element] = {}
    groups: dict[str, _Element] = {}
    defaults = _Element()
    docs: list[tuple[YamlDocument, dict[str, _Element]]] = []
    for file, single in (("hosts.yaml", False), ("groups.yaml", False), ("defaults.yaml", True)):
        doc = hosts_doc if file == "hosts.yaml" else None
        if file != "hosts.yaml" and (directory / file).is_file():
            doc = _read_file(directory / file, problems)
        if doc is None:
            continue
        elements, found = _load_elements(doc, single=single)
        problems.extend(found)
        if file == "hosts.yaml":
            hosts = elements
        elif file == "groups.yaml":
            groups = elements
        else:
            defaults = elements.get("defaults", defaults)
        docs.append((doc, elements))
    for doc, elements in docs:
        for name, element in elements.items():
            for group in element.groups:
                if group not in groups:
                    problems.append(
                        f"{doc.where((name, 'groups'))}: {name}: unknown group {group!r}"
                    )
    where_host = hosts_doc.where if hosts_doc is not None else (lambda loc: str(hosts_file))
    poller = settings.poller
    devices: dict[str, Device] = {}
    for name, host in hosts.items():
        chain: list[str] = []
        try:
            for group in (g for g in host.groups if g in groups):
                chain.extend(g for g in _group_chain(group, groups) if g not in chain)
        except InventoryError as exc:
            problems.append(f"{where_host((name, 'groups'))}: {name}: {exc}")
            continue
        layers = [host, *(groups[g] for g in chain), defaults]
        snmp = _merged_snmp(layers)
        hostname = host.hostname or next((g.hostname for g in layers if g.hostname), None) or name
        platform = next((layer.platform for layer in layers if layer.platform), None)
        tags = tuple(dict.fromkeys(t for layer in layers for t in layer.data.tags))
        target = None
        snmp_problem = None
        declared = any(layer.data.snmp is not None for layer in layers[:-1])  # host or groups
        if declared and snmp.get("enabled", True) and not snmp.get("credential"):
            snmp_problem = (
                "data.snmp is set but names no credential, so the device would never be polled: "
                "add data.snmp.credential (here, in a group or in defaults.yaml) or "
                "data.snmp.enabled: false"
            )
        elif snmp.get("enabled", True) and snmp.get("credential"):
            cred_name = snmp["credential"].lower()
            credential = settings.credentials.get(cred_name)
            version = snmp.get("version", "2c")
            if credential is None:
                snmp_problem = (
                    f"credential {snmp['credential']!r} is not defined in settings "
                    "(credentials.<name>, GENOSD_CREDENTIALS__<NAME>__…, or the secrets dir)"
                )
            elif version == "3" and credential.username is None:
                snmp_problem = "SNMPv3 needs a credential with a username"
            elif version != "3" and credential.community is None:
                snmp_problem = f"SNMPv{version} needs a credential with a community"
            else:
                target = SnmpTarget(
                    address=hostname,
                    port=snmp.get("port", 161),
                    version=version,
                    credential=credential,
                    timeout=snmp.get("timeout", poller.timeout),
                    retries=snmp.get("retries", poller.retries),
                    max_repetitions=snmp.get("max_repetitions", poller.max_repetitions),
                    interval=snmp.get("interval", poller.interval),
                    context=snmp.get("context", ""),
                )
        ssh = _ssh_target(name, hostname, platform, _merged_ssh(layers), settings)
        if snmp_problem is not None:
            problems.append(f"{where_host((name,))}: {name}: {snmp_problem}")
        if isinstance(ssh, str):
            problems.append(f"{where_host((name,))}: {ssh}")
        if snmp_problem is not None or isinstance(ssh, str):
            continue
        site = next((layer.data.site for layer in layers if layer.data.site), None)
        role = next((layer.data.role for layer in layers if layer.data.role), None)
        poller_group = next(
            (layer.data.poller_group for layer in layers if layer.data.poller_group), "default"
        )
        devices[name] = Device(
            name=name,
            hostname=hostname,
            platform=platform,
            groups=tuple(chain),
            tags=tags,
            site=site,
            role=role,
            poller_group=poller_group,
            snmp=target,
            ssh=ssh,
            data=_merged_data(layers),
        )
    for doc, _ in docs:
        release(doc)  # a large inventory's parse tree, freed without stalling other threads
    if problems:
        raise InventoryError("invalid inventory", source=str(directory), problems=problems)
    group_members = {g: [d.name for d in devices.values() if g in d.groups] for g in groups}
    return Inventory(directory=directory, devices=devices, groups=group_members)
