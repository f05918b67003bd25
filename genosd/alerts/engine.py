"""The alert evaluator: rules over points, events and device states in, alerts firing and
resolving out. Pure (time is passed in, nothing is stored here): the application layer feeds it
and keeps what it says.

Each rule's alerts are told apart by their `key` labels (the device, by default). A condition
that starts to hold makes an alert pending; once it has held for the rule's `for` the alert
fires; when it stops holding the alert resolves (a pending one is just forgotten).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from genosd.alerts.rules import Rule, matches
from genosd.metrics.model import Point

Labels = dict[str, str]
NAMING_FIELD = {"syslog": "kind", "alert": "kind", "traps": "name"}
DeviceLabels = Callable[[str], Labels]  # a device's inventory labels (site, role, group)


@dataclass
class Alert:
    """One alert of one rule."""

    rule: str
    key: str
    severity: str
    labels: Labels
    summary: str
    value: float | str | None
    started_at: float  # when the condition began to hold
    fired_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    last_seen: float = 0.0  # an event alert's newest matching event

    def __post_init__(self) -> None:
        self.last_seen = self.last_seen or self.started_at

    @property
    def device(self) -> str | None:
        """The device the alert is about, if any."""
        return self.labels.get("device")


@dataclass(frozen=True)
class Transition:
    """An alert that fired or resolved."""

    kind: Literal["fired", "resolved"]
    alert: Alert
    at: float


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


class Evaluator:
    """Holds the pending and firing alerts of a rule set."""

    def __init__(self, rules: Iterable[Rule], device_labels: DeviceLabels):
        self.rules = {rule.name: rule for rule in rules}
        self.device_labels = device_labels
        self.pending: dict[str, Alert] = {}
        self.firing: dict[str, Alert] = {}
        self._by_measurement: dict[str, list[_Compiled]] = collections.defaultdict(list)
        self._by_source: dict[str, list[Rule]] = collections.defaultdict(list)
        # per source, the literal values of its naming field (syslog and core alerts: `kind`;
        # traps: `name`) some rule's match or resolve asks for; None: a rule asks for any
        self._names: dict[str, set[str | None]] = collections.defaultdict(set)
        for rule in self.rules.values():
            if rule.when in ("metric", "flapping") and rule.measurement:
                self._by_measurement[rule.measurement].append(_Compiled.of(rule))
            elif rule.when == "event" and rule.source:
                self._by_source[rule.source].append(rule)
                field = NAMING_FIELD[rule.source]
                for pattern in (rule.match, rule.resolve):
                    if not pattern:
                        continue
                    wanted = pattern.get(field)
                    literal = wanted is not None and not any(c in wanted for c in "*?[")
                    self._names[rule.source].add(wanted if literal else None)
        # flapping, per series: the field's previous value, the times it changed
        self._last: dict[tuple[Any, ...], float | str | bool] = {}
        self._changes: dict[tuple[Any, ...], collections.deque[float]] = {}
        # each rule's pending and firing alerts by their key labels' values: a point whose
        # condition does not hold needs no key (a string to build) when its series has none
        self._active: dict[str, set[tuple[Any, ...]]] = collections.defaultdict(set)
        self._seen: dict[str, collections.deque[float]] = {}  # event rules with a count

    @property
    def measurements(self) -> set[str]:
        """Measurements some rule looks at (points of others need not be shown)."""
        return set(self._by_measurement)

    def restore(self, alerts: Iterable[Alert], pending: Iterable[Alert] = ()) -> None:
        """Alerts that were firing before a restart or a reload (so they can resolve), and
        those pending before a reload."""
        for found, into in ((alerts, self.firing), (pending, self.pending)):
            for alert in found:
                if alert.rule in self.rules or into is self.firing:
                    into[alert.key] = alert
                    self._mark(alert, True)

    # --- inputs ------------------------------------------------------------------------------

    def observe_points(self, points: Iterable[Point], now: float) -> list[Transition]:
        """Metric and flapping rules over newly polled points."""
        out: list[Transition] = []
        by_measurement = self._by_measurement
        for point in points:
            rules = by_measurement.get(point.measurement)
            if not rules:
                continue
            for compiled in rules:
                if compiled.tags and not compiled.rule.wants_tags(point.tags):
                    continue
                if compiled.metric:
                    self._metric(compiled, point, now, out)
                else:
                    self._flapping(compiled, point, now, out)
        return out

    def wants(self, source: str, name: str | None) -> bool:
        """Whether some rule could match an event of `source` named `name` (its `kind`, or a
        trap's `name`): most syslog messages name no event, and no rule needs them."""
        names = self._names.get(source)
        if not names:
            return False
        return None in names or name in names

    def observe_event(self, source: str, data: dict[str, Any], now: float) -> list[Transition]:
        """Event rules over one syslog message, trap or core alert (flattened fields)."""
        out: list[Transition] = []
        for rule in self._by_source.get(source, ()):
            if rule.resolve and matches(rule.resolve, data):
                self._resolve_same(rule, data, now, out)
            if not matches(rule.match, data):
                continue
            key = self._key_of(rule, data)
            value: float | str | None = None
            if rule.count > 1:
                seen = self._seen.setdefault(key, collections.deque())
                seen.append(now)
                while seen and seen[0] < now - rule.window:
                    seen.popleft()
                if len(seen) < rule.count:
                    continue
                value = len(seen)
            alert = self.firing.get(key)
            if alert is not None:
                alert.value, alert.details, alert.last_seen = value, data, now  # still happening
                continue
            alert = self._alert(rule, key, self._labels(rule, data), value, now, data)
            self._fire(alert, now, out)
        return out

    def observe_states(
        self,
        now: float,
        *,
        down: set[str],
        backup_failures: dict[str, str],
        spooled: int,
    ) -> list[Transition]:
        """State rules over the devices down, the backups failing and the metrics spool."""
        out: list[Transition] = []
        for rule in self.rules.values():
            holding: dict[str, dict[str, Any]]
            if rule.when == "device_down":
                holding = {name: {} for name in down}
            elif rule.when == "backup_failing":
                holding = {name: {"error": error} for name, error in backup_failures.items()}
            elif rule.when == "spool_growing":
                holding = {"": {}} if spooled > rule.points else {}
            else:
                continue
            current: set[str] = set()
            for device, details in holding.items():
                source = {"device": device} if device else {}
                key = self._key_of(rule, source)
                current.add(key)
                value: float | str | None = spooled if rule.when == "spool_growing" else None
                self._hold(rule, key, source, value, now, details, out)
            for key in [
                k for k, a in {**self.pending, **self.firing}.items() if a.rule == rule.name
            ]:
                if key not in current:
                    self._clear(key, now, out)
        return out

    def tick(self, now: float) -> list[Transition]:
        """Fire what has held long enough; resolve event alerts past their `resolve_after`."""
        out: list[Transition] = []
        for alert in list(self.pending.values()):
            rule = self.rules.get(alert.rule)
            if rule is None or alert.started_at + rule.for_ <= now:
                self._fire(alert, now, out)
        for key, alert in list(self.firing.items()):
            rule = self.rules.get(alert.rule)
            if rule is None:
                self._clear(key, now, out)  # its rule was removed
            elif (
                rule.when == "event"
                and rule.resolve_after is not None
                and alert.last_seen + rule.resolve_after <= now
            ):
                self._clear(key, now, out)
        return out

    # --- conditions --------------------------------------------------------------------------

    def _metric(self, compiled: _Compiled, point: Point, now: float, out: list[Transition]) -> None:
        fields = point.fields
        values = [fields[name] for name in compiled.fields if name in fields]
        if not values:
            return  # this point says nothing about the rule
        rule = compiled.rule
        holds = compiled.holds
        if compiled.where and not rule.wants_fields(fields):
            holding = []
        else:
            holding = [v for v in values if holds(v)]
        if not holding:
            active = self._active.get(rule.name)
            if active and tuple(map(point.tags.get, compiled.key_names)) in active:
                self._clear(self._key_of(rule, point.tags), now, out)
            return
        numbers = [v for v in holding if isinstance(v, int | float)]
        value: float | str | None = max(numbers) if numbers else str(holding[0])
        if isinstance(value, float):
            value = round(value, 2)
        self._hold(rule, self._key_of(rule, point.tags), point.tags, value, now, {}, out)

    def _flapping(
        self, compiled: _Compiled, point: Point, now: float, out: list[Transition]
    ) -> None:
        name = compiled.fields[0]
        if name not in point.fields:
            return
        rule, tags = compiled.rule, point.tags
        value = point.fields[name]
        series = (rule.name, *(tags.get(n) for n in compiled.key_names))
        previous = self._last.get(series)
        self._last[series] = value
        changes = self._changes.get(series)
        if previous is not None and previous != value:
            if changes is None:
                changes = self._changes[series] = collections.deque()
            changes.append(now)
        if changes is None:
            return  # a steady series (almost all of them): nothing kept but its last value
        while changes and changes[0] < now - rule.window:
            changes.popleft()
        key = self._key_of(rule, tags)
        if len(changes) >= rule.changes:
            self._hold(rule, key, tags, len(changes), now, {}, out)
        elif not changes:
            del self._changes[series]
            self._clear(key, now, out)  # quiet for a whole window
        elif key in self.firing:
            self.firing[key].value = len(changes)

    def _resolve_same(
        self, rule: Rule, data: dict[str, Any], now: float, out: list[Transition]
    ) -> None:
        device = data.get("device")
        for key, alert in list(self.firing.items()):
            if alert.rule != rule.name or alert.labels.get("device") != device:
                continue
            if all(str(alert.details.get(f)) == str(data.get(f)) for f in rule.same):
                self._clear(key, now, out)

    # --- bookkeeping -------------------------------------------------------------------------

    def _labels(self, rule: Rule, source: dict[str, Any]) -> Labels:
        labels: Labels = {"alertname": rule.name, "severity": rule.severity}
        device = source.get("device")
        if device:
            labels["device"] = str(device)
            labels.update(self.device_labels(str(device)))
        for name in rule.key:
            if source.get(name) not in (None, ""):
                labels[name] = str(source[name])
        labels.update(rule.labels)
        return labels

    @staticmethod
    def _key_of(rule: Rule, source: dict[str, Any]) -> str:
        """The alert's key from the point's tags or the event's fields (as its labels would
        have them)."""
        names = rule.key or ("device",)
        return rule.name + "".join(f"|{name}={_text(source.get(name))}" for name in names)

    def _alert(
        self,
        rule: Rule,
        key: str,
        labels: Labels,
        value: float | str | None,
        now: float,
        details: dict[str, Any],
    ) -> Alert:
        alert = Alert(rule.name, key, rule.severity, labels, "", value, now, details=details)
        alert.summary = self._summary(rule, alert)
        return alert

    @staticmethod
    def _summary(rule: Rule, alert: Alert) -> str:
        template = rule.summary or "{alertname} on {device}"
        values = _Blank({**alert.details, **alert.labels, "value": alert.value})
        try:
            return template.format_map(values)[:500]
        except (ValueError, IndexError, AttributeError):
            return template[:500]  # a template with stray braces reads as written

    def _hold(
        self,
        rule: Rule,
        key: str,
        source: dict[str, Any],
        value: float | str | None,
        now: float,
        details: dict[str, Any],
        out: list[Transition],
    ) -> None:
        alert = self.firing.get(key) or self.pending.get(key)
        if alert is not None:
            if alert.value != value or alert.details != details:
                alert.value, alert.details = value, details
                alert.summary = self._summary(rule, alert)
            return
        alert = self._alert(rule, key, self._labels(rule, source), value, now, details)
        if rule.for_ <= 0:
            self._fire(alert, now, out)
        else:
            self.pending[key] = alert
            self._mark(alert, True)

    def _fire(self, alert: Alert, now: float, out: list[Transition]) -> None:
        alert.fired_at = now
        if alert.key not in self.pending:
            self._mark(alert, True)
        self.pending.pop(alert.key, None)
        self.firing[alert.key] = alert
        out.append(Transition("fired", alert, now))

    def _clear(self, key: str, now: float, out: list[Transition]) -> None:
        alert = self.pending.pop(key, None)
        fired = self.firing.pop(key, None)
        if fired is not None:
            out.append(Transition("resolved", fired, now))
        gone = alert or fired
        if gone is not None:
            self._mark(gone, False)

    def _mark(self, alert: Alert, active: bool) -> None:
        rule = self.rules.get(alert.rule)
        names = (rule.key or ["device"]) if rule is not None else ["device"]
        series = tuple(alert.labels.get(name) for name in names)
        if active:
            self._active[alert.rule].add(series)
        else:
            self._active[alert.rule].discard(series)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A metric or flapping rule with what the per-point path asks of it worked out once."""

    rule: Rule
    metric: bool
    fields: tuple[str, ...]
    key_names: tuple[str, ...]
    tags: bool
    where: bool
    holds: Callable[[Any], bool]

    @classmethod
    def of(cls, rule: Rule) -> _Compiled:
        """Compile a rule."""
        return cls(
            rule,
            rule.when == "metric",
            tuple(rule.fields),
            tuple(rule.key or ("device",)),
            bool(rule.tags),
            bool(rule.where),
            _test(rule),
        )


def _test(rule: Rule) -> Callable[[Any], bool]:
    """The rule's value test, without re-reading the rule per value (numbers only, for the
    comparisons: a bool or a text never is above or below anything)."""
    above, below = rule.above, rule.below
    if above is not None:
        return lambda v: (v.__class__ is int or v.__class__ is float) and v > above
    if below is not None:
        return lambda v: (v.__class__ is int or v.__class__ is float) and v < below
    return rule.holds
