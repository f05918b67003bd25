"""Section rules, checked on many random configs against a naive reading of the rule spec.

The engine answers a section rule with a few searches over every section's joined text; the
oracle here walks each section line by line, as the spec reads: a section is its header and the
lines indented below it, `when`/`unless` look at the header and the lines, the pattern at the
lines only.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from genosd.config.rules import Rule, RuleSet
from genosd.inventory import Device

CHILDREN = [
    "shutdown",
    "no shutdown",
    "description uplink to ISP",
    "description desk 12",
    "ip address 10.0.0.1 255.255.255.0",
    "no ip proxy-arp",
    "switchport mode access",
    "switchport access vlan 1",
    "switchport access vlan 20",
    "spanning-tree portfast edge",
    "interface Loopback0",  # a child that reads like a header
]
HEADERS = [
    "interface GigabitEthernet1/0/1",
    "interface Vlan1",
    "interface Loopback0",
    "line vty 0 4",
]
RULES: list[dict[str, str | bool]] = [
    {"section": "^interface ", "must_contain": "no ip proxy-arp", "when": "^ip address [0-9]"},
    {"section": "^interface ", "must_contain": "shutdown", "unless": "^(description |no shut)"},
    {"section": "^interface ", "must_not_contain": "^switchport access vlan 1$", "regex": True},
    {"section": "^interface ", "must_contain": "^interface Loopback", "regex": True},
    {"section": "^interface ", "must_contain": "shutdown", "when": "(?i)^description .*isp"},
    {"section": "^interface Vlan", "must_not_contain": "shutdown", "unless": "Vlan1$"},
    {"section": "^(interface|line) ", "must_contain": "description"},
]

DEVICE = Device(name="d", hostname="d", platform="ios", groups=(), tags=(), data={})


def oracle(rule: Rule, text: str) -> list[tuple[str, int | None]]:
    """(rule, line) of each finding, by walking the config's sections line by line."""
    lines = [
        (number, raw.strip(), len(raw) - len(raw.lstrip()))
        for number, raw in enumerate(text.splitlines(), start=1)
        if raw.strip() and raw.strip()[0] not in "!#"
    ]
    pattern = rule.pattern if rule.regex else rf"^{re.escape(rule.pattern)}(?: |$)"
    found: list[tuple[str, int | None]] = []
    for at, (number, header, indent) in enumerate(lines):
        if rule.section is None or not re.search(rule.section, header):
            continue
        children = []
        for child in lines[at + 1 :]:
            if child[2] <= indent:
                break
            children.append(child)
        body = [header] + [c[1] for c in children]
        if rule.when and not any(re.search(rule.when, line) for line in body):
            continue
        if rule.unless and any(re.search(rule.unless, line) for line in body):
            continue
        hits = [c[0] for c in children if re.search(pattern, c[1])]
        if rule.must_contain is not None and not hits:
            found.append((rule.id, number))
        if rule.must_not_contain is not None:
            found.extend((rule.id, hit) for hit in hits)
    return found


sections = st.lists(
    st.tuples(
        st.sampled_from(HEADERS),
        st.lists(st.tuples(st.sampled_from(CHILDREN), st.sampled_from([" ", "  ", "\t"]))),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(config=sections, rule_index=st.integers(0, len(RULES) - 1), comments=st.booleans())
def test_section_rules_agree_with_a_line_by_line_reading(
    config: list[tuple[str, list[tuple[str, str]]]], rule_index: int, comments: bool
):
    text = "hostname x\n"
    for header, children in config:
        text += header + "\n" + "".join(f"{indent}{child}\n" for child, indent in children)
        text += "!\n" if comments else ""
    rule = Rule.model_validate({"id": f"r{rule_index}", **RULES[rule_index]})
    findings, applied, _ = RuleSet((rule,)).check(DEVICE, text)
    expected = oracle(rule, text)
    if not expected and not any(re.search(rule.section or "", h) for h, _ in config):
        expected = [] if rule.passes_when_absent else [(rule.id, None)]
    assert applied == 1
    assert [(f.rule, f.line) for f in findings] == expected
