"""Render (sandbox, StrictUndefined, clear errors), rule files, structure checks, remediation."""

from __future__ import annotations

from pathlib import Path

import pytest

from genosd.config.remediation import remediate
from genosd.config.render import Renderer, TemplateError
from genosd.config.rules import RuleFileError, load_rules
from genosd.config.secrets import Masker
from genosd.config.structure import check_structure
from genosd.config.validate import validate_config
from genosd.errors import ConfigError
from genosd.inventory import Device
from genosd.platforms import platform

TEMPLATES = Path(__file__).parents[2] / "templates"
DATA = {
    "domain": "lab.example",
    "ntp_servers": ["10.0.0.1"],
    "snmp_contact": "noc@example",
    "vlans": {20: "voice", 10: "users"},
    "interfaces": {
        "Loopback0": {"address": "10.255.0.1/32"},
        "GigabitEthernet0/1": {"description": "users", "mode": "access", "vlan": 10},
    },
}


def _device(platform_name: str = "ios", **data) -> Device:
    return Device(
        name="r1",
        hostname="127.0.0.1",
        platform=platform_name,
        groups=("core",),
        tags=(),
        site="fra1",
        role="core",
        data={**DATA, **data},
    )


@pytest.mark.parametrize("name", ["ios", "eos", "nxos"])
def test_shipped_templates_render_and_pass_the_shipped_rules(name: str):
    device = _device(name)
    rendered = Renderer(TEMPLATES).render(device)
    assert list(rendered.features) == ["base", "aaa", "snmp", "ntp", "vlans", "interfaces"]
    text = rendered.text
    assert "hostname r1" in text and "ntp server 10.0.0.1" in text
    assert text.index("vlan 10") < text.index("vlan 20")
    assert "snmp-server location fra1" in text  # defaults to the site
    report = validate_config(
        device,
        Masker(platform(name)),
        list(rendered.features),
        text,
        load_rules([TEMPLATES / "rules"]),
    )
    assert report.findings == [] and report.score == 100.0 and report.rules_applied >= 5


def test_nxos_rules_catch_telnet_and_a_read_write_community():
    device = _device("nxos")
    rendered = Renderer(TEMPLATES).render(device)
    bad = rendered.text + "feature telnet\nsnmp-server community ops group network-admin\n"
    report = validate_config(
        device,
        Masker(platform("nxos")),
        list(rendered.features),
        bad,
        load_rules([TEMPLATES / "rules"]),
    )
    assert {f.rule for f in report.findings} == {"nxos-no-telnet", "nxos-no-rw-community"}
    assert report.score < 100.0


def test_a_missing_variable_names_template_line_and_variable(tmp_path: Path):
    data = dict(DATA)
    del data["ntp_servers"]
    device = Device(name="r1", hostname="h", platform="ios", groups=(), tags=(), data=data)
    with pytest.raises(TemplateError) as caught:
        Renderer(TEMPLATES).render(device)
    message = str(caught.value)
    assert "ios/ntp.j2:2:" in message and "ntp_servers" in message and "r1" in message


def _templates(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ios").mkdir(parents=True)
    for feature in ("base", "aaa", "snmp", "ntp", "vlans", "interfaces"):
        (tmp_path / "ios" / f"{feature}.j2").write_text("")
    (tmp_path / "ios" / "base.j2").write_text(text)
    return tmp_path


def test_syntax_errors_and_sandbox_escapes_are_template_errors(tmp_path: Path):
    broken = _templates(tmp_path / "a", "hostname {{ host.name }}\n{% for x in %}\n")
    with pytest.raises(TemplateError, match=r"ios/base.j2:2: syntax error"):
        Renderer(broken).render(_device())
    escape = _templates(tmp_path / "b", "x\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(TemplateError, match=r"ios/base.j2:2: .*unsafe"):
        Renderer(escape).render(_device())


def test_templates_see_facts(tmp_path: Path):
    templates = _templates(
        tmp_path, "hostname {{ host.name }}\n! serial {{ facts.version[0].serial }}\n"
    )
    rendered = Renderer(templates).render(_device(), {"version": [{"serial": "FTX1234"}]})
    assert "! serial FTX1234" in rendered.text
    with pytest.raises(TemplateError, match=r"ios/base\.j2:2: .*version"):
        Renderer(templates).render(_device())  # no facts yet: a clear error, not a blank


def test_features_unknown_platform_and_missing_template(tmp_path: Path):
    rendered = Renderer(TEMPLATES).render(_device(features=["ntp", "base"]))
    assert list(rendered.features) == ["base", "ntp"]  # the platform's order, not the list's
    with pytest.raises(TemplateError, match="unknown feature"):
        Renderer(TEMPLATES).render(_device(features=["bgp"]))
    with pytest.raises(ConfigError, match="unknown platform 'vyos'"):
        Renderer(TEMPLATES).render(_device("vyos"))
    with pytest.raises(TemplateError, match=r"eos/base\.j2 does not exist"):
        Renderer(_templates(tmp_path, "")).render(_device("eos"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "rules:\n  - id: a\n    must_contain: x\n    must_not_contain: y\n",
            ":2: rules.0: Value error, give exactly one",
        ),
        (
            "rules:\n  - id: a\n    must_contain: '('\n    regex: true\n",
            ":2: rules.0: Value error, invalid regex",
        ),
        (
            "rules:\n  - id: a\n    platforms: [vyos]\n    must_contain: x\n",
            ":2: rules.0: Value error, unknown platform(s): vyos",
        ),
        (
            "rules:\n  - id: a\n    severity: fatal\n    must_contain: x\n",
            ":3: rules.0.severity: Input should be",
        ),
        (
            "rules:\n  - id: a\n    must_contain: x\n  - id: a\n    must_contain: y\n",
            ":4: rules.1.id: duplicate rule id 'a'",
        ),
        ("rules:\n  - id: a\n  must_contain: x\n", ":3: invalid YAML"),
        ("rules:\n  - id: a\n    must_contian: x\n", ":3: rules.0.must_contian: Extra inputs"),
    ],
)
def test_bad_rule_files_name_file_line_and_field(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RuleFileError) as caught:
        load_rules([tmp_path])
    assert f"{path}{problem}" in str(caught.value)
    with pytest.raises(RuleFileError, match="no such rule file"):
        load_rules([tmp_path / "missing.yaml"])


def test_rules_report_lines_sections_roles_and_a_score(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("""rules:
  - {id: no-telnet, severity: critical, section: '^line vty', must_not_contain: 'transport input .*telnet', regex: true}
  - {id: vty-ssh, section: '^line vty', must_contain: 'transport input ssh'}
  - {id: ntp, must_contain: ntp server}
  - {id: access-only, roles: [access], must_contain: 'spanning-tree portfast default'}
  - {id: eos-only, platforms: [eos], must_contain: 'management api http-commands'}
""")
    rules = load_rules([tmp_path / "r.yaml"])
    text = (
        "hostname r1\nline vty 0 4\n transport input telnet\nline vty 5 15\n transport input ssh\n"
    )
    findings, applied, passed = rules.check(_device(), text)
    assert applied == 3 and passed == 0  # roles and platforms leave two rules out
    by_rule = {(f.rule, f.line) for f in findings}
    assert by_rule == {("no-telnet", 3), ("vty-ssh", 2), ("ntp", None)}
    assert next(f for f in findings if f.rule == "no-telnet").severity == "critical"


def test_structure_findings():
    ios = platform("ios")
    assert check_structure(ios, "hostname r1\n") == []
    assert [f.rule for f in check_structure(ios, "")] == ["empty"]
    rules = {f.rule for f in check_structure(ios, " description orphan\nhostname {{ x }}\n\tfoo\n")}
    assert rules == {"orphan-child", "template-debris", "tab"}


def test_remediation_is_scoped_hashed_and_masked_for_display():
    ios = platform("ios")
    running = (
        "hostname r1\nusername admin secret 9 $9$abc\nsnmp-server community old RO\n"
        "interface Loopback0\n shutdown\n"
    )
    intended = "hostname r1\nsnmp-server community n3w-secret RO\ninterface Loopback0\n"
    fix = remediate(ios, ["base", "snmp", "interfaces"], "r1", running, intended)
    text = "\n".join(fix.commands)
    assert "username" not in text  # no feature owns usernames: never removed
    assert "snmp-server community n3w-secret RO" in fix.commands
    assert "no snmp-server community old RO" in fix.commands
    assert "  no shutdown" in fix.commands
    assert (
        fix.sha256 == remediate(ios, ["base", "snmp", "interfaces"], "r1", running, intended).sha256
    )
    shown = Masker(ios).lines(list(fix.commands) + list(fix.diff))
    assert "n3w-secret" not in "\n".join(shown) and "<masked>" in "\n".join(shown)
    assert remediate(ios, ["base"], "r1", running, intended).empty


def test_removed_secret_lines_are_masked_too():
    shown = Masker(platform("ios")).lines(
        [
            "no username temp privilege 1 secret 9 $9$tempsecret",
            "-snmp-server community old-community RO",
            "tacacs server T1",
            "  no key 7 0822455D0A16",
        ],
    )
    assert shown == [
        "no username temp privilege 1 secret 9 <masked>",
        "-snmp-server community <masked> RO",
        "tacacs server T1",
        "  no key 7 <masked>",
    ]
