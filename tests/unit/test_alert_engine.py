"""Alert rules and the evaluator: conditions, `for`, keys, flapping, events, states, silences."""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest

from genosd.alerts.engine import Evaluator
from genosd.alerts.rules import Rule, load_rules
from genosd.alerts.silences import Silence, silencing
from genosd.errors import ConfigError
from genosd.metrics.model import Point


def _rules(*names: str) -> list[Rule]:
    rules = {rule.name: rule for rule in load_rules([])}
    return [rules[name] for name in names]


def _labels(name: str) -> dict[str, str]:
    return {"site": "fra1"} if name == "sw1" else {}


def _iface(device: str, name: str, oper: int, admin: int = 1, **fields: float) -> Point:
    tags = {"device": device, "ifName": name, "ifIndex": "1"}
    return Point("interface", tags, {"ifOperStatus": oper, "ifAdminStatus": admin, **fields}, 0)


def _kinds(transitions: list) -> list[tuple[str, str]]:
    return [(t.kind, t.alert.key) for t in transitions]


def test_a_metric_rule_waits_for_its_duration_then_fires_and_resolves() -> None:
    evaluator = Evaluator(_rules("interface_down"), _labels)  # for: 1m
    assert evaluator.observe_points([_iface("sw1", "Gi0/1", 2)], 1000.0) == []
    assert evaluator.tick(1030.0) == []
    (fired,) = evaluator.tick(1061.0)
    assert fired.kind == "fired" and fired.alert.key == "interface_down|device=sw1|ifName=Gi0/1"
    alert = fired.alert
    assert alert.labels == {
        "alertname": "interface_down", "severity": "major", "device": "sw1", "site": "fra1",
        "ifName": "Gi0/1",
    }  # fmt: skip
    assert alert.summary == "sw1 Gi0/1 is down while administratively up"
    # still down: nothing new; another port is its own alert
    assert evaluator.observe_points([_iface("sw1", "Gi0/1", 2)], 1100.0) == []
    evaluator.observe_points([_iface("sw1", "Gi0/2", 2)], 1100.0)
    assert list(evaluator.pending) == ["interface_down|device=sw1|ifName=Gi0/2"]
    # up again: resolved; the pending one going admin-down is just forgotten
    assert _kinds(evaluator.observe_points([_iface("sw1", "Gi0/1", 1)], 1200.0)) == [
        ("resolved", "interface_down|device=sw1|ifName=Gi0/1")
    ]
    assert evaluator.observe_points([_iface("sw1", "Gi0/2", 2, admin=2)], 1200.0) == []
    assert not evaluator.pending and not evaluator.firing


def test_any_of_several_fields_and_the_value_in_the_summary() -> None:
    rule = Rule.model_validate(
        {"name": "hot", "when": "metric", "measurement": "interface",
         "field": ["in_utilization", "out_utilization"], "above": 90, "key": ["device", "ifName"],
         "summary": "{device} {ifName} at {value}% ({nonexistent})"}
    )  # fmt: skip
    evaluator = Evaluator([rule], _labels)
    (fired,) = evaluator.observe_points(
        [_iface("r1", "xe-0/0/0", 1, in_utilization=12.0, out_utilization=97.456)], 5.0
    )
    assert fired.alert.summary == "r1 xe-0/0/0 at 97.46% (?)"
    # a point without the fields says nothing: the alert stays
    assert evaluator.observe_points([Point("interface", {"device": "r1"}, {"x": 1}, 0)], 6.0) == []
    assert evaluator.firing


def test_flapping_counts_changes_in_the_window() -> None:
    evaluator = Evaluator(_rules("interface_flapping"), _labels)  # 3 changes in 10 min
    states = [(0, 1), (60, 2), (120, 1), (170, 1)]
    for at, oper in states:
        assert evaluator.observe_points([_iface("sw1", "Gi0/3", oper)], float(at)) == []
    (fired,) = evaluator.observe_points([_iface("sw1", "Gi0/3", 2)], 200.0)
    assert fired.alert.value == 3 and "changed state 3 times" in fired.alert.summary
    # quiet for a whole window: resolved
    assert _kinds(evaluator.observe_points([_iface("sw1", "Gi0/3", 2)], 900.0)) == [
        ("resolved", "interface_flapping|device=sw1|ifName=Gi0/3")
    ]


def test_event_rules_resolve_on_the_matching_event_with_the_same_fields() -> None:
    evaluator = Evaluator(_rules("bgp_neighbor_down"), _labels)
    down = {"device": "sw1", "kind": "bgp_down", "neighbor": "10.0.0.2", "reason": "hold timer"}
    (fired,) = evaluator.observe_event("syslog", down, 10.0)
    assert fired.alert.summary == "sw1 BGP neighbour 10.0.0.2 went down (hold timer)"
    assert evaluator.observe_event("syslog", {**down, "neighbor": "10.0.0.3"}, 11.0)
    # the other neighbour coming up resolves only its own alert
    up = {"device": "sw1", "kind": "bgp_up", "neighbor": "10.0.0.3"}
    assert _kinds(evaluator.observe_event("syslog", up, 12.0)) == [
        ("resolved", "bgp_neighbor_down|device=sw1|neighbor=10.0.0.3")
    ]
    assert evaluator.observe_event("traps", up, 13.0) == []  # another source
    assert len(evaluator.firing) == 1


def test_counted_events_fire_at_the_count_and_resolve_after_quiet() -> None:
    evaluator = Evaluator(_rules("login_failures"), _labels)  # 5 in 5 min, resolve after 30 min
    failed = {"device": "r1", "kind": "login_failed", "user": "root", "address": "10.9.9.9"}
    for at in range(4):
        assert evaluator.observe_event("syslog", failed, float(at * 70)) == []  # spread out
    assert evaluator.observe_event("syslog", failed, 400.0) == []  # 0 and 70 fell out: 3
    assert evaluator.observe_event("syslog", failed, 405.0) == []
    (fired,) = evaluator.observe_event("syslog", failed, 410.0)
    assert fired.alert.value == 5 and "(last: root from 10.9.9.9)" in fired.alert.summary
    assert evaluator.tick(410.0 + 1700) == []
    assert _kinds(evaluator.tick(410.0 + 1801)) == [("resolved", "login_failures|device=r1")]


def test_state_rules_devices_down_backups_and_the_spool() -> None:
    evaluator = Evaluator(_rules("device_down", "backup_failing", "spool_growing"), _labels)
    out = evaluator.observe_states(
        100.0, down={"sw1"}, backup_failures={"r1": "timed out"}, spooled=5
    )
    assert _kinds(out) == [("fired", "backup_failing|device=r1")]
    assert out[0].alert.summary == "r1 config backup failed: timed out"
    assert list(evaluator.pending) == ["device_down|device=sw1"]
    assert _kinds(evaluator.tick(161.0)) == [("fired", "device_down|device=sw1")]
    out = evaluator.observe_states(170.0, down=set(), backup_failures={}, spooled=200_000)
    assert sorted(_kinds(out)) == [
        ("resolved", "backup_failing|device=r1"), ("resolved", "device_down|device=sw1"),
    ]  # fmt: skip
    assert list(evaluator.pending) == ["spool_growing|device="]


def test_rules_files_replace_builtins_by_name_and_errors_name_file_and_line(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "rules.yaml"
    mine.write_text("- name: cpu_high\n  enabled: false\n  when: device_down\n")
    names = {rule.name for rule in load_rules([mine])}
    assert "cpu_high" not in names and "device_down" in names
    assert {rule.name for rule in load_rules([mine], builtin=False)} == set()
    mine.write_text(
        "- name: ok\n  when: device_down\n"
        "- name: bad\n  when: metric\n  measurement: interface\n  field: x\n"
        "- name: worse\n  when: event\n  source: syslog\n  match: {kind: x}\n  for: soon\n"
    )
    with pytest.raises(ConfigError) as failure:
        load_rules([mine])
    problems = failure.value.problems
    assert any(p.startswith(f"{mine}:3: 1") and "above, below" in p for p in problems), problems
    assert any(p.startswith(f"{mine}:11: 2.for") for p in problems), problems


def _utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)))


def test_silences_and_recurring_maintenance_windows() -> None:
    base = {"created_by": "ops", "created_at": 0.0, "comment": "planned"}
    silence = Silence(
        id=1, matchers={"device": "sw*", "alertname": "interface_*"}, starts_at=100.0,
        ends_at=200.0, **base,
    )  # fmt: skip
    labels = {"alertname": "interface_down", "device": "sw1"}
    assert silence.covers(labels) and not silence.covers({**labels, "device": "r1"})
    assert [silence.active(t) for t in (99.0, 100.0, 199.0, 200.0)] == [False, True, True, False]
    ended = silence.model_copy(update={"ended_at": 150.0})
    assert ended.active(149.0) and not ended.active(150.0)
    # Sundays 02:00 UTC for two hours, for a month
    window = Silence(
        id=2, kind="maintenance", matchers={"site": "fra1"}, starts_at=_utc(2026, 12, 1, 0, 0, 0),
        ends_at=_utc(2027, 1, 1, 0, 0, 0), cron="0 2 * * 0", duration=7200, **base,
    )  # fmt: skip
    assert window.active(_utc(2026, 12, 6, 2, 0, 0))  # Sunday, the minute it starts
    assert window.active(_utc(2026, 12, 6, 3, 59, 0))
    assert not window.active(_utc(2026, 12, 6, 4, 0, 1))
    assert not window.active(_utc(2026, 12, 7, 2, 30, 0))  # Monday
    assert not window.active(_utc(2027, 1, 3, 2, 30, 0))  # after it ends
    found = silencing([silence, window], {"site": "fra1"}, _utc(2026, 12, 13, 2, 30, 0))
    assert found is window
