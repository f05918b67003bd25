"""The prompt store: seeds never overwrite an edit, versions are kept, rendering is strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from genosd.errors import InvalidRequestError, NotFoundError
from plugins.prompt import SEEDS
from plugins.prompt.model import PromptBody, render
from plugins.prompt.store import PromptStore


def test_seeds_create_once_and_never_overwrite_an_edit(tmp_path: Path):
    store = PromptStore(tmp_path / "p.sqlite3")
    assert len(store.seed(SEEDS)) == 5
    store.edit("show-explain", {"description": "mine now"}, "alice")
    assert store.seed(SEEDS) == []  # a restart seeds nothing
    current = store.get("show-explain")
    assert (current.version, current.description, current.author) == (2, "mine now", "alice")
    assert [v.version for v in store.versions("show-explain")] == [2, 1]
    with pytest.raises(NotFoundError, match="has no version 9"):
        store.get("show-explain", 9)
    with pytest.raises(InvalidRequestError, match="kind"):
        store.edit("show-explain", {"kind": "poetry"}, "alice")
    assert store.get("show-explain").version == 2  # a refused edit makes no version
    store.close()


def test_rendering_is_typed_and_strict():
    body = PromptBody(
        template="{{ device }} has {{ count + 1 }} peers {{ extra }}",
        variables={"device": {"type": "str"}, "count": {"type": "int"}},
    )
    with pytest.raises(InvalidRequestError, match="'extra' is undefined"):
        render(body, {"device": "r1", "count": "3"})
    ok = PromptBody(template="{{ device }}: {{ count + 1 }}", variables=body.variables)
    assert render(ok, {"device": "r1", "count": "3"})[-1]["content"] == "r1: 4"
    with pytest.raises(InvalidRequestError, match="'many' is not a int"):
        render(ok, {"device": "r1", "count": "many"})
    with pytest.raises(InvalidRequestError, match="unknown variable 'colour'"):
        render(ok, {"device": "r1", "count": 1, "colour": "red"})
    with pytest.raises(ValueError, match="not a JSON Schema"):
        PromptBody(template="x", output_schema={"type": "nonsense"})
