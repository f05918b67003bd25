"""An immutable snapshot of what genosd runs on: validated settings plus the resolved inventory.

A snapshot is loaded in one blocking step (call it from a worker thread in the daemon) from its
sources: the settings file, the secrets directories and the inventory directory. A bad file raises
ConfigError naming file, line and field, and nothing of the running snapshot changes. `changed()`
names the settings that differ between two snapshots; `RESTART_REQUIRED` are those a running
daemon cannot take over without a restart.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genosd import logs
from genosd.alerts.rules import Rule, load_rules
from genosd.collectors.mib_profiles import BUILTIN_DIR, ProfileSet, load_profiles
from genosd.config.secrets import redact_config_forms
from genosd.errors import ConfigError
from genosd.inventory import Inventory, load_inventory
from genosd.settings import GenosdSettings, load_settings, secret_values
from genosd.snmp.mibtext import with_files
from genosd.snmp.names import MibNames, builtin_names
from genosd.syslog.classify import Classifier

log = logging.getLogger(__name__)

# settings a running daemon keeps until it restarts (sockets and files opened once)
RESTART_REQUIRED = frozenset(
    {"state_dir", "api.host", "api.port", "traps.enabled", "traps.host", "traps.port"}
    | {
        f"syslog.{name}"
        for name in (
            "enabled",
            "host",
            "udp_port",
            "tcp_port",
            "tls_port",
            "tls_cert",
            "tls_key",
            "tls_client_ca",
            "forward",
        )
    }
    | {
        f"cluster.{name}"
        for name in (
            "backend",
            "redis_url",
            "redis_password",
            "node",
            "poller_groups",
            "heartbeat",
            "node_ttl",
            "prefix",
            "work_concurrency",
            "work_lease",
            "work_attempts",
        )
    }
)


@dataclass(frozen=True)
class Sources:
    """Where a snapshot is read from."""

    config_file: Path | None = None
    inventory_dir: Path | None = None  # overrides settings.inventory_dir (the lab, tests)
    secrets_dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Settings and inventory as one validated, immutable unit."""

    sources: Sources
    settings: GenosdSettings
    inventory: Inventory
    mib_names: MibNames = field(default_factory=builtin_names)  # built-in + mib_paths
    mib_profiles: ProfileSet = field(default_factory=ProfileSet)  # built-in + poller.profile_paths
    syslog_events: Classifier = field(default_factory=Classifier.load)  # + syslog.events_file
    alert_rules: tuple[Rule, ...] = field(default_factory=lambda: tuple(load_rules([])))
    loaded_at: float = field(default_factory=time.time)

    @property
    def inventory_dir(self) -> Path:
        """The directory the inventory was read from."""
        return self.inventory.directory


def load_settings_from(sources: Sources) -> GenosdSettings:
    """Only the settings of `sources` (commands that need no inventory).

    The log filter learns the settings' secret values, so no log line can carry them.
    """
    settings = load_settings(sources.config_file, extra_secrets_dirs=list(sources.secrets_dirs))
    logs.REDACTION.remember(secret_values(settings))
    logs.REDACTION.also(redact_config_forms)
    return settings


def load_snapshot(sources: Sources) -> Snapshot:
    """Read and validate settings and inventory (blocking); ConfigError on any problem.

    With no inventory configured anywhere and no ./inventory/hosts.yaml, the inventory is empty
    (a first start on a laptop); a configured inventory_dir without hosts.yaml is an error.
    """
    settings = load_settings_from(sources)
    names = with_files(settings.mib_paths)
    profiles = load_profiles([BUILTIN_DIR, *settings.poller.profile_paths], names)
    unknown = sorted(set(settings.poller.profiles) - {p.name for p in profiles.profiles})
    if unknown:
        raise ConfigError(f"poller.profiles names unknown MIB profiles: {', '.join(unknown)}")
    events = Classifier.load(settings.syslog.events_file)
    rules = tuple(load_rules(settings.alerts.rules_files, builtin=settings.alerts.builtin_rules))
    directory = sources.inventory_dir or settings.inventory_dir
    configured = sources.inventory_dir is not None or "inventory_dir" in settings.model_fields_set
    if not configured and not (directory / "hosts.yaml").exists():
        log.warning("no inventory: %s/hosts.yaml does not exist; no device is polled", directory)
        inventory = Inventory(directory, {}, {})
    else:
        inventory = load_inventory(directory, settings)
    return Snapshot(sources, settings, inventory, names, profiles, events, rules)


def changed(old: GenosdSettings, new: GenosdSettings) -> list[str]:
    """Dotted names of the settings that differ (secrets compared by value, never shown)."""
    return _diff(old, new, "")


def _diff(old: Any, new: Any, prefix: str) -> list[str]:
    if old == new:
        return []
    if isinstance(old, BaseModel) and type(old) is type(new):
        names: list[str] = []
        for name in type(old).model_fields:
            names.extend(_diff(getattr(old, name), getattr(new, name), f"{prefix}{name}."))
        return names
    if isinstance(old, dict) and isinstance(new, dict):
        names = []
        for key in sorted(set(old) | set(new), key=str):
            names.extend(_diff(old.get(key), new.get(key), f"{prefix}{key}."))
        return names
    return [prefix.rstrip(".")]


def needs_restart(names: list[str]) -> list[str]:
    """The changed settings that only a restart applies."""
    return [n for n in names if n in RESTART_REQUIRED]
