"""Every secret form of the corpus is masked, with stable per-device tokens, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genosd.config.secrets import (
    TOKEN_RE,
    Masker,
    changed_secrets,
    every_platform,
    generic,
    install_key,
    with_parents,
)
from genosd.platforms import load_platforms

CORPUS = Path(__file__).parent.parent / "data" / "secrets"
MARKED = re.compile("«([^»]*)»")
FILES = {
    "ios.cfg": "ios",
    "eos.cfg": "eos",
    "nxos.cfg": "nxos",
    "junos.cfg": "junos",
    "junos-curly.cfg": "junos",
}
KEY = b"k" * 32


def corpus(name: str) -> tuple[str, list[str]]:
    """The config of a corpus file (markers taken out) and its secret values."""
    marked = (CORPUS / name).read_text()
    return MARKED.sub(r"\1", marked), MARKED.findall(marked)


def masker(platform: str, device: str = "r1", key: bytes | None = KEY) -> Masker:
    return Masker(load_platforms()[platform], device, key)


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_corpus_secret_is_masked_and_nothing_else(name):
    text, values = corpus(name)
    masked = masker(FILES[name]).text(text)
    assert masked.count == len(values)
    for value in values:
        assert value not in masked.text, value
    # lines without a marker come out exactly as they went in
    for before, after in zip(
        (CORPUS / name).read_text().split("\n"), masked.text.split("\n"), strict=True
    ):
        if "«" not in before:
            assert before == after
        else:
            assert len(TOKEN_RE.findall(after)) == before.count("«"), before


@pytest.mark.parametrize("name", sorted(FILES))
def test_indentation_and_diff_signs_do_not_hide_a_secret(name):
    text, values = corpus(name)
    m = masker(FILES[name])
    # hier_config indents children by two spaces, diffs add a sign, remediations a "no "
    lines = [
        ("+" + line.replace(" ", "  ", 1)) if line.startswith(" ") else line
        for line in text.split("\n")
    ]
    negated = [
        ("no " if FILES[name] != "junos" else "delete ") + line
        for line in text.split("\n")
        if line and not line.startswith((" ", "}"))
    ]
    shown = "\n".join(m.lines(lines) + m.lines(negated))
    for value in values:
        assert value not in shown, value


def test_tokens_are_stable_per_value_and_differ_between_values_and_devices():
    one = masker("ios", "r1")
    assert one.token("abc") == masker("ios", "r1").token("abc")
    assert one.token("abc") != one.token("abd")
    assert one.token("abc") != masker("ios", "r2").token("abc")
    assert masker("ios", "r1", b"x" * 32).token("abc") != one.token("abc")
    assert masker("ios", key=None).token("abc") == "<masked>"


def test_a_rotated_secret_is_reported_as_changed():
    m = masker("ios")
    old = m.lines(["-snmp-server community public1 RO", "-hostname a"])
    new = m.lines(["+snmp-server community public2 RO", "+hostname b"])
    assert old[0] != new[0].replace("+", "-", 1)
    assert changed_secrets(old, new) == ["snmp-server community <masked> RO"]
    assert generic(old[0]) == "-snmp-server community <masked> RO"
    # an old version masked without a key tells nothing about the value: not a change
    legacy = masker("ios", key=None).lines(["-snmp-server community public1 RO"])
    assert changed_secrets(legacy, new) == []


@pytest.mark.parametrize("name", sorted(FILES))
def test_already_masked_text_is_left_as_it_is(name):
    text, values = corpus(name)
    # the union of every platform's rules (a device gone from the inventory) too
    for m in (masker(FILES[name]), Masker(every_platform(), "gone", KEY)):
        once = m.text(text)
        again = m.text(once.text)
        assert again.text == once.text and again.count == 0
        assert once.count >= len(values) and not [v for v in values if v in once.text]


def test_install_key_is_created_once_and_private(tmp_path):
    key = install_key(tmp_path)
    assert install_key(tmp_path) == key and len(key) == 32
    assert (tmp_path / "mask.key").stat().st_mode & 0o777 == 0o600


VALUE = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='"«»<>'),
    min_size=1,
    max_size=40,
)
FORMS = [
    ("ios", "snmp-server community {} RO"),
    ("ios", "{i}key 7 {}"),
    ("ios", "{i}neighbor 192.0.2.1 password 7 {}"),
    ("ios", "{i}ip ospf message-digest-key 1 md5 {}"),
    ("ios", "snmp-server user u1 g1 v3 auth sha {} priv aes 128 {}"),
    ("eos", "username admin privilege 15 secret sha512 {}"),
    ("nxos", "snmp-server user admin network-admin auth md5 {} priv aes-128 {}"),
    ("junos", "set system root-authentication encrypted-password {}"),
    ("junos", '{i}authentication-key "{}";'),
]


@settings(max_examples=200, deadline=None)
@given(
    form=st.sampled_from(FORMS),
    values=st.lists(VALUE, min_size=2, max_size=2),
    indent=st.sampled_from([" ", "  ", "    "]),
)
def test_random_values_in_known_forms_are_exactly_the_masked_ones(form, values, indent):
    platform, template = form
    line = template.replace("{i}", indent).format(*values)
    if "{i}" in template and platform != "junos":
        parent = "tacacs server T1" if "key 7" in template else "router bgp 65000"
        text = f"{parent}\n{line}"
    else:
        text = line
    wanted = values[: template.count("{}")]
    m = masker(platform)
    found = [
        line[start:end]
        for parent, line in with_parents(text.split("\n"))
        for start, end in m.spans(line, parent)
    ]
    assert found == wanted, (line, m.text(text).text)
    assert m.text(text).count == len(wanted)


def test_free_text_masks_lines_quoted_inside_messages():
    m = masker("ios")
    messages = [
        "did not converge: 1 line(s) still differ: 'snmp-server community Fr33Text RO'",
        "ConfigInvalidException: Invalid input detected at '^' marker.\n"
        "lab-r1(config)#username bob secret 0 Plain-Secret-1\n% Invalid input",
        r"read: b'\nsnmp-server user u1 g1 v3 auth sha AuthKey-77 priv aes 128 PrivKey-77\n'",
        r"Pattern found: (no\ snmp\-server\ community\ Esc-Community\ RO)",
    ]
    shown = [m.free_text(message) for message in messages]
    for secret in ("Fr33Text", "Plain-Secret-1", "AuthKey-77", "PrivKey-77", "Esc-Community"):
        assert not [s for s in shown if secret in s], secret
    assert all("<secret:" in s for s in shown)
    assert shown[0].startswith("did not converge: 1 line(s) still differ: 'snmp-server community")
    assert m.free_text("host key for 10.0.0.1 accepted") == "host key for 10.0.0.1 accepted"


def test_threads_racing_to_create_the_mask_key_all_get_the_same_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from genosd.config.secrets import install_key

    with ThreadPoolExecutor(16) as pool:
        keys = list(pool.map(lambda _: install_key(tmp_path / "state"), range(64)))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert (tmp_path / "state" / "mask.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["mask.key"]  # no leftovers
