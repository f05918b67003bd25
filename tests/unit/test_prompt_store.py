"""The prompt store: seeds never overwrite an edit, versions are kept, rendering is strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from genosd.errors import InvalidRequestError, NotFoundError
from genosd.llm.prompts import builtin_prompts
from plugins.prompt.model import PromptBody, render
from plugins.prompt.store import PromptStore


def test_seeds_create_once_and_never_overwrite_an_edit(tmp_path: Path):
    store = PromptStore(tmp_path / "p.sqlite3")
    assert len(store.seed(builtin_prompts())) == len(builtin_prompts()) == 11
    store.edit("show-explain", {"description": "mine now"}, "alice")
    assert store.seed(builtin_prompts()) == []  # a restart seeds nothing
    current = store.get("show-explain")
    assert (current.version, current.description, current.author) == (2, "mine now", "alice")
    assert [v.version for v in store.versions("show-explain")] == [2, 1]
    with pytest.raises(NotFoundError, match="has no version 9"):
        store.get("show-explain", 9)
    with pytest.raises(InvalidRequestError, match="kind"):
        store.edit("show-explain", {"kind": "poetry"}, "alice")
    assert store.get("show-explain").version == 2  # a refused edit makes no version
    store.close()


def test_genosd_prompts_keep_to_the_variables_their_feature_supplies(tmp_path: Path):
    store = PromptStore(tmp_path / "p.sqlite3")
    store.seed(builtin_prompts())
    site = {"site": {"type": "str"}}
    with pytest.raises(InvalidRequestError, match="site would need a default"):
        store.edit(
            "config-review",
            {"variables": {"platform": {}, "device": {}, "config": {}, **site}},
            "al",
        )
    optional = {"site": {"type": "str", "required": False}}
    variables = {"platform": {}, "device": {}, "config": {}, **optional}
    assert store.edit("config-review", {"variables": variables}, "al").version == 2
    store.save("my-own", PromptBody(template="{{ site }}", variables=site), "al")  # not genosd's
    store.close()


def test_rendering_is_typed_and_strict():
    variables = {"device": {"type": "str"}, "count": {"type": "int"}}
    with pytest.raises(ValueError, match="uses extra, not declared in variables"):
        PromptBody(
            template="{{ device }} has {{ count + 1 }} peers {{ extra }}", variables=variables
        )
    looped = PromptBody(template="{% for i in range(2) %}{{ loop.index }}{% endfor %}")
    assert render(looped, {})[-1]["content"] == "12"  # loop names and sandbox globals are fine
    ok = PromptBody(template="{{ device }}: {{ count + 1 }}", variables=variables)
    assert render(ok, {"device": "r1", "count": "3"})[-1]["content"] == "r1: 4"
    with pytest.raises(InvalidRequestError, match="'many' is not a int"):
        render(ok, {"device": "r1", "count": "many"})
    with pytest.raises(InvalidRequestError, match="unknown variable 'colour'"):
        render(ok, {"device": "r1", "count": 1, "colour": "red"})
    with pytest.raises(ValueError, match="not a JSON Schema"):
        PromptBody(template="x", output_schema={"type": "nonsense"})
