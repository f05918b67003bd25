"""The shipped baselines give exactly the marked findings on the labelled set, and nothing on clean
configs; rule-engine features (defaults, scopes, for_each) checked one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from genosd.config.detect import detect_platform
from genosd.config.rules import RuleFileError, load_rules
from genosd.config.sarif import sarif_report
from genosd.inventory import Device
from tests.compliance_set import LABELLED, SET, labelled_set, load_labelled

TEMPLATES = Path(__file__).parent.parent.parent / "templates"
BASELINES = load_rules([TEMPLATES / "rules" / "baselines"])
INTENT = load_rules([TEMPLATES / "rules"])


def device(platform: str) -> Device:
    return Device(name="d1", hostname="h", platform=platform, groups=(), tags=(), data={})


@pytest.mark.parametrize(
    "path", sorted(SET.glob("*/*.cfg")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_each_labelled_config_gives_exactly_its_marked_findings(path: Path):
    config = load_labelled(path)
    findings, applied, passed = BASELINES.check(device(config.platform), config.text)
    got = sorted(((f.rule, f.line) for f in findings), key=str)
    assert got == sorted(config.expected, key=str), path.name
    if path.name.startswith("clean"):
        assert not findings and applied == passed


def test_the_labelled_set_covers_every_baseline_rule():
    marked = {rule for path in SET.glob("*/*.cfg") for rule, _ in load_labelled(path).expected}
    baseline = {r.id for r in BASELINES.rules if r.id.split("-")[0] in LABELLED}
    assert baseline - marked == set()  # each rule fails somewhere (and passes in the clean ones)


def test_eos_without_a_telnet_section_is_not_flagged():
    config = "hostname sw1\nmanagement ssh\n   idle-timeout 10\n"
    assert "eos-telnet-off" not in {f.rule for f in INTENT.check(device("eos"), config)[0]}
    enabled = config + "management telnet\n   no shutdown\n"
    assert "eos-telnet-off" in {f.rule for f in INTENT.check(device("eos"), enabled)[0]}


def _rules(tmp_path: Path, text: str):
    (tmp_path / "r.yaml").write_text(text)
    return load_rules([tmp_path / "r.yaml"])


def test_a_missing_section_follows_the_platforms_default(tmp_path: Path):
    rules = _rules(
        tmp_path,
        "rules:\n"
        "  - {id: telnet-off, section: '^management telnet', if_absent: pass,"
        " must_contain: shutdown}\n"
        "  - {id: ssh-idle, section: '^management ssh', must_contain: idle-timeout}\n",
    )
    findings, applied, passed = rules.check(device("eos"), "hostname a\n")
    assert [f.rule for f in findings] == ["ssh-idle"] and (applied, passed) == (2, 1)
    on = "management telnet\n   no shutdown\nmanagement ssh\n   idle-timeout 10\n"
    assert [(f.rule, f.line) for f in rules.check(device("eos"), on)[0]] == [("telnet-off", 1)]


def test_for_each_checks_every_neighbor_and_skips_peer_group_members(tmp_path: Path):
    rules = _rules(
        tmp_path,
        "rules:\n"
        "  - id: bgp-auth\n"
        "    section: '^router bgp'\n"
        "    for_each: '^neighbor (\\S+) (?:remote-as \\S+|peer-group)$'\n"
        "    unless: '^neighbor {1} peer-group \\S+$'\n"
        "    must_contain: '^neighbor {1} password '\n"
        "    regex: true\n",
    )
    config = (
        "router bgp 1\n neighbor PG peer-group\n neighbor PG password x\n"
        " neighbor 10.0.0.1 remote-as 2\n neighbor 10.0.0.1 peer-group PG\n"
        " neighbor 10.0.0.2 remote-as 3\n neighbor 10.0.0.3 remote-as 3\n"
        " neighbor 10.0.0.3 password y\n"
    )
    [finding] = rules.check(device("ios"), config)[0]
    assert finding.line == 6 and "for 10.0.0.2" in finding.message  # its remote-as line


def test_a_broken_rule_names_file_line_and_field(tmp_path: Path):
    with pytest.raises(RuleFileError) as caught:
        _rules(tmp_path, "rules:\n  - id: x\n    for_each: '^neighbor \\S+'\n    must_contain: a\n")
    assert "r.yaml:2" in str(caught.value.problems) and "group to capture" in str(
        caught.value.problems
    )


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("ios.cfg", "ios"),
        ("eos.cfg", "eos"),
        ("nxos.cfg", "nxos"),
        ("junos.cfg", "junos"),
        ("junos-curly.cfg", "junos"),
    ],
)
def test_the_platform_of_a_config_is_detected(name: str, platform: str):
    corpus = Path(__file__).parent.parent / "data" / "secrets" / name
    assert detect_platform(corpus.read_text().replace("«", "").replace("»", "")) == platform


def test_labelled_configs_are_detected_as_their_platform():
    for config in labelled_set():
        assert detect_platform(config.text) == config.platform, config.path.name
    assert detect_platform("hello\nworld\n") is None


def test_sarif_names_rule_line_and_level():
    config = load_labelled(SET / "ios" / "legacy-router.cfg")
    findings = BASELINES.check(device("ios"), config.text)[0]
    sarif = sarif_report([("legacy-router.cfg", findings)], list(BASELINES.rules), "1.0")
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0" and len(run["results"]) == len(findings)
    ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
    telnet = next(r for r in run["results"] if r["ruleId"] == "ios-vty-no-telnet")
    region = telnet["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 44 and "telnet" in region["snippet"]["text"]
    described = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "ios-vty-no-telnet")
    assert "transport input ssh" in described["help"]["text"] and described["properties"]["tags"]


def test_intent_rules_and_baselines_load_together():
    both = load_rules([TEMPLATES / "rules", TEMPLATES / "rules" / "baselines"])
    assert len(both.rules) == len(INTENT.rules) + len(BASELINES.rules)
