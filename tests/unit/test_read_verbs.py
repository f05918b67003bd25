"""Each platform's read verbs: what its read-only commands may start with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from genosd.platforms import Platform, load_platforms, read_verbs
from genosd.readonly import read_only_problem


def test_the_platforms_read_verbs():
    assert read_only_problem("file list /var/log/messages", read_verbs("junos")) is None
    assert read_only_problem("show interfaces terse", read_verbs("junos")) is None
    refused = read_only_problem("file delete /var/log/messages", read_verbs("junos"))
    assert refused is not None and "must start with show, ping, traceroute, file list" in refused
    assert read_only_problem("dir flash:", read_verbs("ios")) is None
    assert read_only_problem("display version", read_verbs("ios")) is not None  # not IOS
    assert read_only_problem("display version", read_verbs(None)) is None  # unknown: defaults


def test_a_platform_cannot_call_a_writing_verb_read_only():
    base = load_platforms()["ios"].model_dump()
    for verb in ("file", "file delete", "copy", "reload", "configure"):
        with pytest.raises(ValidationError, match="not a verb genosd knows to be read-only"):
            Platform.model_validate({**base, "read_verbs": ["show", verb]})
