"""Settings backup and restore without secrets: `genosd settings export|import`.

Export writes the effective settings (file + environment) that differ from the built-in defaults,
with every secret left out and listed in a header comment (secrets live in the secrets directory
or the environment, never in a settings file). Import validates a file like that (refusing one
that holds a secret), shows the diff, and replaces the settings file atomically, keeping the
previous one as a backup.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from genosd import __version__
from genosd.errors import ConfigError
from genosd.settings import GenosdSettings, refuse_file_secrets, secret_paths, secrets_dirs
from genosd.yamlfile import describe_validation_error, load_yaml

Path_ = tuple[str, ...]


def without_secrets(settings: GenosdSettings) -> tuple[dict[str, Any], list[str]]:
    """Non-default settings as plain data minus secrets, and the secret paths left out."""
    data: dict[str, Any] = settings.model_dump(mode="json", exclude_defaults=True)
    omitted = []
    for path in secret_paths(data):
        parent = _get(data, path[:-1])
        if parent.pop(path[-1]) is not None:
            omitted.append(".".join(path))
    return data, omitted


def render_export(settings: GenosdSettings) -> str:
    """The export file: a header naming what was left out, then YAML."""
    data, omitted = without_secrets(settings)
    header = [
        f"# genosd {__version__} settings export, {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
        "# Secrets are not exported; provide them again from the secrets directory",
        "# ($CREDENTIALS_DIRECTORY or GENOSD_SECRETS_DIR, one file per secret) or the environment.",
    ]
    header += [f"# omitted secret: {path}" for path in omitted] or ["# omitted secrets: none"]
    body = yaml.safe_dump(data, sort_keys=True, default_flow_style=False) if data else "{}\n"
    return "\n".join(header) + "\n" + body


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


@dataclass(frozen=True)
class ImportPlan:
    """What `settings import` would write."""

    target: Path
    text: str
    diff: str
    digest: str


def _masked_text(data: Any) -> str:
    masked = data
    if isinstance(data, dict):
        masked = copy.deepcopy(data)
        for path in secret_paths(masked):
            parent = _get(masked, path[:-1])
            parent[path[-1]] = "**********"
    return yaml.safe_dump(masked, sort_keys=True, default_flow_style=False)


def plan_import(
    source: Path, target: Path, extra_secrets_dirs: list[Path] | None = None
) -> ImportPlan:
    """Validate `source` as settings; raises ConfigError on any problem (a secret in it, too)."""
    document = load_yaml(source)
    if document.data is None:
        raise ConfigError("the file is empty", source=str(source))
    if not isinstance(document.data, dict):
        raise ConfigError("settings must be a mapping of sections", source=str(source))
    refuse_file_secrets(document)
    new: dict[str, Any] = copy.deepcopy(document.data)
    current: dict[str, Any] = {}
    if target.is_file():
        loaded = load_yaml(target).data
        current = loaded if isinstance(loaded, dict) else {}
    dirs = list(extra_secrets_dirs or [])
    if new.get("secrets_dir"):
        dirs.insert(0, Path(new["secrets_dir"]))
    try:
        GenosdSettings(_secrets_dir=secrets_dirs(dirs) or None, **new)
    except ValidationError as exc:
        raise ConfigError(
            "the imported settings are invalid",
            source=str(source),
            problems=describe_validation_error(exc, [document]),
        ) from exc
    text = yaml.safe_dump(new, sort_keys=True, default_flow_style=False)
    diff = "".join(
        difflib.unified_diff(
            _masked_text(current).splitlines(keepends=True) if current else [],
            _masked_text(new).splitlines(keepends=True),
            fromfile=f"{target} (current)",
            tofile=f"{target} (imported)",
        )
    )
    digest = hashlib.sha256(diff.encode()).hexdigest()
    return ImportPlan(target, text, diff, digest)


def apply_import(plan: ImportPlan) -> Path | None:
    """Write the new settings atomically; the previous file is kept as <name>.bak-<time>."""
    backup = None
    if plan.target.exists():
        backup = plan.target.with_name(f"{plan.target.name}.bak-{time.strftime('%Y%m%dT%H%M%S')}")
        shutil.copy2(plan.target, backup)
    plan.target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{plan.target.name}.", dir=plan.target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(plan.text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, plan.target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup
