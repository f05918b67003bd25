"""Secrets from directories of files, one secret per file, named like the setting it fills.

`credentials__core__community` holds `credentials.core.community`; `influx__token` holds
`influx.token`. The directories are systemd's `$CREDENTIALS_DIRECTORY`, `$GENOSD_SECRETS_DIR` and
any the caller adds (the lab's); later ones override earlier ones. systemd's directory form of
`LoadCredential=genosd:/etc/genosd/credentials` names each file `genosd_<file>`: that prefix is
dropped. A file's content is the secret, one trailing newline stripped. A directory or file this
process cannot read is a ConfigError naming it and the user, never a traceback.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from genosd.errors import ConfigError

ENV_DIRS = ("CREDENTIALS_DIRECTORY", "GENOSD_SECRETS_DIR")
SYSTEMD_PREFIX = "genosd_"
MAX_BYTES = 64 * 1024


def _who() -> str:
    try:
        return f"{getpass.getuser()} (uid {os.getuid()})"
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def secret_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """The directories to read, each checked to exist and be readable (ConfigError otherwise)."""
    named = [(key, Path(value)) for key in ENV_DIRS if (value := os.environ.get(key))]
    named.extend(("secrets directory", Path(p)) for p in extra)
    dirs = []
    for origin, path in named:
        label = f"${origin}" if origin in ENV_DIRS else origin
        if not path.is_dir():
            raise ConfigError(f"{label} {path} does not exist or is not a directory")
        if not os.access(path, os.R_OK | os.X_OK):
            raise ConfigError(
                f"{label} {path} is not readable by {_who()}: give the service user read and "
                "search access (e.g. group genosd, mode 0750), or let systemd hand the files "
                "over with LoadCredential="
            )
        dirs.append(path)
    return dirs


def _value(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"secret file {path} is {size} bytes; a secret is at most 64 KiB")
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise ConfigError(f"secret file {path} is not readable by {_who()}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"secret file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"secret file {path}: {exc.strerror}") from None
    return text[:-1] if text.endswith("\n") else text


def read_secrets(directories: Iterable[Path], fields: Iterable[str]) -> dict[str, Any]:
    """Nested settings values from every file whose name starts with a known top-level field."""
    known = {name.lower() for name in fields}
    values: dict[str, Any] = {}
    for directory in directories:
        for path in sorted(directory.iterdir()):
            name = path.name.lower()
            if name.startswith(SYSTEMD_PREFIX):
                name = name[len(SYSTEMD_PREFIX) :]
            parts = name.split("__")
            if name.startswith(".") or parts[0] not in known or not path.is_file():
                continue  # another service's credential, or an editor's backup file
            node = values
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[parts[-1]] = _value(path)
    return values


class SecretFilesSource(PydanticBaseSettingsSource):
    """A pydantic-settings source over `read_secrets` (directories given at construction)."""

    def __init__(self, settings_cls: type[BaseSettings], directories: list[Path]):
        super().__init__(settings_cls)
        self.directories = directories

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` reads everything at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The nested values of every secret file."""
        return read_secrets(self.directories, self.settings_cls.model_fields)
