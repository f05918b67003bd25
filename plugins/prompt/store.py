"""Prompts and every version of them, in the plugin's own SQLite file.

Every change makes a new version and makes it active: an edit, a rollback (a new version with an
old one's content, so history is never rewritten), an import that differs. Seeds (genosd's
built-in prompts) create a prompt that does not exist yet and never overwrite an edit.
"""

from __future__ import annotations

import difflib
import json
import time
from pathlib import Path
from typing import Any

import yaml

from genosd.plugin import InvalidRequestError, NotFoundError, SqliteFile
from plugins.prompt.model import (
    PromptBody,
    PromptVersion,
    check_name,
    check_usable,
    validated,
)
from plugins.prompt.testing import Case, RunResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompt_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at REAL NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS prompts (
    name TEXT PRIMARY KEY,
    active INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prompt_cases (
    name TEXT NOT NULL,
    case_name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (name, case_name)
);
CREATE TABLE IF NOT EXISTS prompt_runs (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    name TEXT NOT NULL,
    comparison TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS prompt_runs_name ON prompt_runs (name, id);
"""


class PromptStore(SqliteFile):
    """The prompt library; safe to use from worker threads."""

    def __init__(self, path: Path):
        super().__init__(path, SCHEMA)

    def seed(self, prompts: dict[str, PromptBody]) -> list[str]:
        """Create the prompts of `prompts` that do not exist yet; their names."""
        created = []
        for name, body in sorted(prompts.items()):
            if self._active(name) is None:
                self.save(name, body, "seed", "genosd's built-in text")
                created.append(name)
        return created

    def save(self, name: str, body: PromptBody, author: str, note: str = "") -> PromptVersion:
        """A new version of `name` (created if new), made active; InvalidRequestError when it
        is one of genosd's prompts and needs a variable its feature does not supply."""
        check_name(name)
        check_usable(name, body)
        with self.transaction() as db:
            row = db.execute(
                "SELECT max(version) FROM prompt_versions WHERE name = ?", (name,)
            ).fetchone()
            version = (row[0] or 0) + 1
            db.execute(
                "INSERT INTO prompt_versions (name, version, body, author, created_at, note)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, body.model_dump_json(), author, time.time(), note),
            )
            db.execute(
                "INSERT INTO prompts (name, active) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET active = excluded.active",
                (name, version),
            )
        return self.get(name, version)

    def lookup(self, name: str) -> tuple[int, PromptBody] | None:
        """(active version, body) of a prompt, None when there is none (the prompt source)."""
        try:
            found = self.get(name)
        except NotFoundError:
            return None
        return found.version, found

    def _active(self, name: str) -> int | None:
        row = self.db.execute("SELECT active FROM prompts WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def get(self, name: str, version: int | None = None) -> PromptVersion:
        """A version (the active one by default); NotFoundError if there is none."""
        active = self._active(name)
        if active is None:
            raise NotFoundError(f"no prompt {name!r}")
        wanted = active if version is None else version
        row = self.db.execute(
            "SELECT body, author, created_at, note FROM prompt_versions"
            " WHERE name = ? AND version = ?",
            (name, wanted),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"prompt {name!r} has no version {wanted}")
        return PromptVersion(
            **json.loads(row[0]),
            name=name,
            version=wanted,
            author=row[1],
            created_at=row[2],
            note=row[3],
            active=wanted == active,
        )

    def names(self) -> list[str]:
        """Every prompt's name, sorted."""
        return [r[0] for r in self.db.execute("SELECT name FROM prompts ORDER BY name")]

    def active_versions(self) -> list[PromptVersion]:
        """Every prompt's active version."""
        return [self.get(name) for name in self.names()]

    def versions(self, name: str) -> list[PromptVersion]:
        """Every version of a prompt, newest first."""
        self.get(name)
        rows = self.db.execute(
            "SELECT version FROM prompt_versions WHERE name = ? ORDER BY version DESC", (name,)
        ).fetchall()
        return [self.get(name, r[0]) for r in rows]

    def edit(
        self, name: str, changes: dict[str, Any], author: str, note: str = ""
    ) -> PromptVersion:
        """A new version from the active one with `changes`; InvalidRequestError if invalid."""
        current = self.get(name)
        data = {**current.model_dump(include=set(PromptBody.model_fields)), **changes}
        body = validated(PromptBody, data, f"prompt {name!r}")
        return self.save(name, body, author, note)

    def rollback(self, name: str, version: int, author: str) -> PromptVersion:
        """A new active version with the content of `version` (history is kept)."""
        old = self.get(name, version)
        body = PromptBody.model_validate(old.model_dump(include=set(PromptBody.model_fields)))
        return self.save(name, body, author, f"rollback to version {version}")

    def diff(self, name: str, a: int, b: int) -> list[str]:
        """Unified diff from version `a` to version `b` (every field, YAML)."""
        left, right = (self._yaml(self.get(name, v)) for v in (a, b))
        return list(
            difflib.unified_diff(
                left.splitlines(), right.splitlines(), f"{name} v{a}", f"{name} v{b}", lineterm=""
            )
        )

    @staticmethod
    def _yaml(version: PromptVersion) -> str:
        data = version.model_dump(include=set(PromptBody.model_fields))
        return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=1000)

    def export(self) -> list[dict[str, Any]]:
        """Every prompt's active version, as data an import takes back."""
        return [
            {"name": v.name, **v.model_dump(include=set(PromptBody.model_fields))}
            for v in self.active_versions()
        ]

    def load(self, items: list[dict[str, Any]], author: str) -> list[str]:
        """Import: a new version of each prompt whose content differs (all checked first, then
        saved); the names changed."""
        bodies = []
        for number, item in enumerate(items):
            data = dict(item)
            name = data.pop("name", None)
            if not isinstance(name, str):
                raise InvalidRequestError(f"item {number}: no name")
            try:
                check_name(name)
            except InvalidRequestError as exc:
                raise InvalidRequestError(f"item {number}: {exc}") from None
            bodies.append((name, validated(PromptBody, data, f"item {number} ({name})")))
        changed = []
        for name, body in bodies:
            try:
                current = self.get(name).model_dump(include=set(PromptBody.model_fields))
            except NotFoundError:
                current = None
            if current != body.model_dump():
                self.save(name, body, author, "imported")
                changed.append(name)
        return changed

    def save_case(self, name: str, case: Case) -> Case:
        """Add or replace a saved test case of prompt `name`."""
        self.get(name)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO prompt_cases (name, case_name, data) VALUES (?, ?, ?)"
                " ON CONFLICT(name, case_name) DO UPDATE SET data = excluded.data",
                (name, case.name, case.model_dump_json()),
            )
        return case

    def cases(self, name: str) -> list[Case]:
        """The saved test cases of a prompt, by name."""
        rows = self.db.execute(
            "SELECT data FROM prompt_cases WHERE name = ? ORDER BY case_name", (name,)
        ).fetchall()
        return [Case.model_validate_json(r[0]) for r in rows]

    def save_runs(self, name: str, results: list[RunResult], comparison: str | None = None) -> None:
        """Keep test-run results (of one comparison, when given)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO prompt_runs (at, name, comparison, data) VALUES (?, ?, ?, ?)",
                [(time.time(), name, comparison, r.model_dump_json()) for r in results],
            )

    def runs(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """A prompt's newest test-run results."""
        rows = self.db.execute(
            "SELECT id, at, comparison, data FROM prompt_runs WHERE name = ? ORDER BY id DESC LIMIT ?",
            (name, limit),
        ).fetchall()
        return [{"id": r[0], "at": r[1], "comparison": r[2], **json.loads(r[3])} for r in rows]
