"""The local store's lines read back as the points that were written (any text genosd writes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genosd.metrics.lines import parse_line
from genosd.metrics.model import Point

# control characters become spaces and some backslashes stand-ins when written (docs/metrics.md)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"),
    min_size=1,
    max_size=12,
)
VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    TEXT,
)


@settings(max_examples=500, deadline=None)
@given(
    TEXT.filter(lambda t: not t.startswith("#")),
    st.dictionaries(TEXT, TEXT, max_size=3),
    st.dictionaries(TEXT, VALUES, min_size=1, max_size=4),
)
def test_what_is_written_reads_back(measurement, tags, fields):
    point = Point(measurement, tags, fields, 1_700_000_000_123_456_789)
    line = point.to_line()
    assert line is not None
    assert parse_line(line) == Point(
        measurement, {k: v for k, v in tags.items() if v}, fields, point.time_ns
    )


def test_a_telegraf_interface_line():
    line = (
        "interface,agent_host=10.0.0.1,hostname=core-1,ifName=Gi0/1 ifHCInOctets=123i,"
        'ifOperStatus=1i,in_bits_rate=8.5e6,ifAlias="uplink, to \\"dc\\"" 1700000000000000000'
    )
    point = parse_line(line)
    assert point.tags["ifName"] == "Gi0/1"
    assert point.fields == {
        "ifHCInOctets": 123,
        "ifOperStatus": 1,
        "in_bits_rate": 8.5e6,
        "ifAlias": 'uplink, to "dc"',
    }


@pytest.mark.parametrize("bad", ["", "cpu", "cpu value=1", "cpu value=x 1"])
def test_not_a_line(bad):
    with pytest.raises(ValueError):
        parse_line(bad)
