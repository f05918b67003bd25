"""Settings: genosd.yaml, overridden by GENOSD_* environment variables, secrets from a directory.

The sections (api, poller, influx, …) are modelled in genosd.settings_sections.

Precedence (highest first): explicit arguments, environment (`GENOSD_API__PORT`), secrets files
(`$CREDENTIALS_DIRECTORY/credentials__core__community`), the YAML file, built-in defaults.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from genosd.errors import ConfigError
from genosd.secretfiles import SecretFilesSource, secret_dirs
from genosd.settings_alerting import AlertSettings, SyslogSettings
from genosd.settings_cluster import ClusterSettings
from genosd.settings_discovery import DiscoverySettings
from genosd.settings_health import CapacitySettings, HealthSettings, ReportSettings
from genosd.settings_sections import (
    ApiSettings,
    ConfigsSettings,
    InfluxSettings,
    LlmSettings,
    PollerSettings,
    SnmpCredential,
    SshCredential,
    SshSettings,
    StoreSettings,
    TrapSettings,
)
from genosd.yamlfile import YamlDocument, describe_validation_error, load_yaml

KeyPath = tuple[str, ...]
CONFIG_SEARCH_PATH = (Path("genosd.yaml"), Path("/etc/genosd/genosd.yaml"))


def default_state_dir() -> Path:
    """`$STATE_DIRECTORY` under systemd (StateDirectory=genosd), else ./.genosd."""
    systemd_state = os.environ.get("STATE_DIRECTORY")
    if systemd_state:
        return Path(systemd_state.split(":")[0])
    return Path(".genosd")


class GenosdSettings(BaseSettings):
    """Everything genosd reads at start-up; every field has a default that works on a laptop."""

    model_config = SettingsConfigDict(
        env_prefix="GENOSD_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    state_dir: Path = Field(default_factory=default_state_dir)
    inventory_dir: Path = Path("inventory")
    playbooks_dir: Path = Path("playbooks")
    playbooks_misfire_grace: float = Field(
        3600.0,
        ge=0,
        le=7 * 86400,
        description="a scheduled playbook run missed while the daemon was down starts at "
        "start-up if at most this many seconds late; later ones are skipped",
    )
    secrets_dir: Path | None = Field(
        None, description="a directory of secret files (besides $CREDENTIALS_DIRECTORY)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    api: ApiSettings = ApiSettings()
    poller: PollerSettings = PollerSettings()
    traps: TrapSettings = TrapSettings()
    syslog: SyslogSettings = SyslogSettings()
    alerts: AlertSettings = AlertSettings()
    cluster: ClusterSettings = ClusterSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    health: HealthSettings = HealthSettings()
    capacity: CapacitySettings = CapacitySettings()
    reports: ReportSettings = ReportSettings()
    mib_paths: list[Path] = Field(
        default_factory=list,
        description="MIB names beside the built-in ones, for trap names and MIB profiles: "
        "directories of MIB source files (vendor MIBs as shipped) or YAML files of "
        "{MODULE: {name: OID}}",
    )
    influx: InfluxSettings = InfluxSettings()
    store: StoreSettings = StoreSettings()
    credentials: dict[str, SnmpCredential] = {}
    ssh: SshSettings = SshSettings()
    ssh_credentials: dict[str, SshCredential] = {}
    configs: ConfigsSettings = ConfigsSettings()
    llm: LlmSettings = LlmSettings()
    plugins: dict[str, dict[str, Any]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file is passed as init kwargs below its overrides, so it is not a source here.
        given = getattr(file_secret_settings, "secrets_dir", None) or []
        directories = [Path(d) for d in (given if isinstance(given, list | tuple) else [given])]
        return env_settings, SecretFilesSource(settings_cls, directories), init_settings

    @model_validator(mode="after")
    def _trap_credentials_exist(self) -> GenosdSettings:
        unknown = sorted(set(self.traps.credentials) - set(self.credentials))
        if unknown:
            raise ValueError(f"traps.credentials names unknown credentials: {', '.join(unknown)}")
        unknown = sorted({c.lower() for c in self.discovery.credentials} - set(self.credentials))
        if unknown:
            raise ValueError(
                f"discovery.credentials names unknown credentials: {', '.join(unknown)}"
            )
        return self

    def public_summary(self) -> dict[str, Any]:
        """The settings with every secret replaced by '**********' (for API and logs)."""
        # typed secrets (SecretStr) dump masked; only free-form plugin sections, which have no
        # types, are masked by key name, so ssh.host_key_policy stays readable
        summary = self.model_dump(mode="json")
        summary["plugins"] = _mask_secret_keys(summary["plugins"])
        return summary


_SECRET_WORDS = frozenset(
    {"secret", "token", "password", "passwd", "passphrase", "community", "key", "apikey", "psk"}
)


def is_secret_key(name: str) -> bool:
    """Whether a free-form settings key (plugin sections) names a secret: `api_key`, `botToken`."""
    # the last word decides: key_rotation_days and token_ttl are not secrets, bot_token is
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    # a webhook URL (Slack, Mattermost) is the credential itself
    return bool(words) and (words[-1] in _SECRET_WORDS or "webhook" in words)


def secret_values(value: Any, *, by_name: bool = False) -> set[str]:
    """Every secret value in settings: typed secrets, and plugin values whose key names one."""
    if isinstance(value, SecretStr):
        return {value.get_secret_value()}
    if isinstance(value, BaseModel):
        found: set[str] = set()
        for name in type(value).model_fields:
            found |= secret_values(getattr(value, name), by_name=by_name or name == "plugins")
        return found
    if isinstance(value, dict):
        found = set()
        for key, item in value.items():
            if by_name and isinstance(item, str) and is_secret_key(str(key)):
                found.add(item)
            else:
                found |= secret_values(item, by_name=by_name)
        return found
    if isinstance(value, list | tuple):
        return set().union(*(secret_values(item, by_name=by_name) for item in value))
    return set()


def _mask_secret_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "**********"
            if value[k] is not None
            and not isinstance(value[k], dict | list)
            and is_secret_key(str(k))
            else _mask_secret_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_secret_keys(v) for v in value]
    return value


def secret_paths(data: Any, path: KeyPath = (), *, by_name: bool = False) -> list[KeyPath]:
    """Paths of secret values in raw settings data: typed secrets, secret-looking plugin keys."""
    found: list[KeyPath] = []
    if isinstance(data, dict):
        for key, item in data.items():
            sub = (*path, str(key))
            secret_field = _is_secret_field(sub) or (by_name and is_secret_key(str(key)))
            if secret_field and not isinstance(item, dict | list):
                found.append(sub)
            else:
                found += secret_paths(item, sub, by_name=by_name or sub == ("plugins",))
    return found


def _is_secret_field(path: KeyPath) -> bool:
    """Whether the settings model types the value at `path` as a secret."""
    annotation: Any = GenosdSettings
    for part in path:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
            annotation = args[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            if field is None:
                return False
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return False
    return "SecretStr" in str(annotation)


def refuse_file_secrets(document: YamlDocument) -> None:
    """ConfigError naming every secret value written in a settings file, and where it goes."""
    data = document.data if isinstance(document.data, dict) else {}
    found = [p for p in secret_paths(data) if _value_at(data, p) is not None]
    if not found:
        return
    problems = [
        f"{document.where(path)}: {'.'.join(path)}: put it in a file named "
        f"{'__'.join(path)} in the secrets directory (secrets_dir, $CREDENTIALS_DIRECTORY or "
        f"$GENOSD_SECRETS_DIR), or in GENOSD_{'__'.join(path).upper()}"
        for path in found
    ]
    raise ConfigError(
        "secrets do not belong in the settings file", source=str(document.path), problems=problems
    )


def _value_at(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def find_config_file(explicit: Path | None) -> Path | None:
    """The settings file: --config, then $GENOSD_CONFIG, then ./genosd.yaml, /etc/genosd/genosd.yaml."""
    if explicit is not None:
        return explicit
    env_path = os.environ.get("GENOSD_CONFIG")
    if env_path:
        return Path(env_path)
    for candidate in CONFIG_SEARCH_PATH:
        if candidate.is_file():
            return candidate
    return None


def secrets_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Directories holding one secret per file: $CREDENTIALS_DIRECTORY, $GENOSD_SECRETS_DIR, extra.

    ConfigError when one of them is missing or unreadable (see genosd.secretfiles).
    """
    return secret_dirs(extra or [])


def load_settings(
    config_file: Path | None = None,
    *,
    extra_secrets_dirs: list[Path] | None = None,
    **overrides: Any,
) -> GenosdSettings:
    """Read and validate the settings; any problem raises ConfigError naming file, line and field."""
    path = find_config_file(config_file)
    document: YamlDocument | None = None
    file_values: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError("settings file not found", source=str(path))
        document = load_yaml(path)
        if document.data is None:
            file_values = {}
        elif isinstance(document.data, dict):
            file_values = document.data
        else:
            raise ConfigError("the settings file must be a mapping of sections", source=str(path))
        refuse_file_secrets(document)
    values = {**file_values, **overrides}
    dirs = list(extra_secrets_dirs or [])
    configured = values.get("secrets_dir")
    if configured and not os.environ.get("GENOSD_SECRETS_DIR"):
        dirs.insert(0, Path(configured))
    try:
        return GenosdSettings(_secrets_dir=secrets_dirs(dirs) or None, **values)
    except ValidationError as exc:
        problems = describe_validation_error(exc, [document] if document else [])
        raise ConfigError(
            "invalid settings", source=str(path) if path else None, problems=problems
        ) from exc
