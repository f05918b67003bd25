"""Window summaries: per series and field, the numbers an engineer asks for."""

from __future__ import annotations

from genosd.metrics.model import Point
from genosd.metrics.window import summarise

S = 1_000_000_000


def _point(name: str, at: int, **fields: float) -> Point:
    return Point("interface", {"hostname": "r1", "ifName": name}, dict(fields), at * S)


def test_per_series_numbers():
    points = [
        _point("Gi0/1", 30, in_bps=300.0, ifOperStatus=1, ifHCInOctets=99),
        _point("Gi0/1", 10, in_bps=100.0, ifOperStatus=1),
        _point("Gi0/1", 20, in_bps=500.0, ifOperStatus=2),
        _point("Gi0/2", 10, in_bps=7.0),
        _point("Lo0", 10, in_bps=1.0),
    ]
    found = {s["series"]: s for s in summarise(points, match="Gi0/*")}
    assert set(found) == {"Gi0/1", "Gi0/2"}
    gi1 = found["Gi0/1"]
    assert (gi1["from_ns"], gi1["to_ns"]) == (10 * S, 30 * S)
    assert gi1["fields"]["in_bps"] == {
        "samples": 3,
        "first": 100.0,
        "last": 300.0,
        "min": 100.0,
        "max": 500.0,
        "max_at_ns": 20 * S,
        "mean": 300.0,
        "changes": 2,
    }
    assert gi1["fields"]["ifOperStatus"]["changes"] == 2  # up, down, up
    assert "ifHCInOctets" not in gi1["fields"]  # raw counters only when asked for
    only = summarise(points, fields=["ifHCInOctets"])
    assert [s["fields"] for s in only] == [
        {"ifHCInOctets": {"samples": 1, "first": 99.0, "last": 99.0, "min": 99.0, "max": 99.0,
                          "max_at_ns": 30 * S, "mean": 99.0, "changes": 0}}
    ]  # fmt: skip
