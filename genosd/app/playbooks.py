"""Playbooks in the application: the actions plugins add, and checking files against them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from genosd.app.core import AppCore
from genosd.app.plugins import load_plugins
from genosd.playbooks.loader import load_playbook
from genosd.playbooks.model import BUILTIN_ACTIONS, Playbook


def plugin_tasks(core: AppCore) -> dict[str, type[BaseModel]]:
    """The tasks the configured plugins register, by name, with their argument models."""
    host = load_plugins(core)
    found: dict[str, type[BaseModel]] = {}
    for record in host.active:
        for task in record.contributions.tasks:
            if task.name not in BUILTIN_ACTIONS:
                found[task.name] = task.args
    return found


def check_playbook(core: AppCore, path: Path) -> Playbook:
    """One playbook file checked against the built-in actions and the plugins' tasks."""
    return load_playbook(path, plugin_tasks(core))
