from genosd.metrics.model import BACKSLASH_STAND_IN as BS
from genosd.metrics.model import HASH_STAND_IN as HASH
from genosd.metrics.model import Point


def test_line_protocol_escapes_and_types():
    p = Point(
        "interface",
        {"ifAlias": "uplink to core, rack 4", "hostname": "sw1", "empty": ""},
        {"ifHCInOctets": 12, "in_bps": 1.5, "up": True, "descr": 'say "hi"'},
        1700000000000000000,
    )
    assert p.to_line() == (
        "interface,hostname=sw1,ifAlias=uplink\\ to\\ core\\,\\ rack\\ 4 "
        'ifHCInOctets=12i,in_bps=1.5,up=true,descr="say \\"hi\\"" 1700000000000000000'
    )


def _line(measurement="m", tags=None, fields=None) -> str | None:
    return Point(measurement, tags or {}, fields or {"v": 1}, 1).to_line()


def test_what_line_protocol_cannot_carry_is_replaced_never_dropped():
    # a line break in a tag would end the line: it becomes a space (and the space is escaped)
    assert _line(tags={"sysName": "core-1\nlab"}) == r"m,sysName=core-1\ lab v=1i 1"
    assert _line(tags={"ifAlias": "a\r\nb\tc"}) == r"m,ifAlias=a\ b\ c v=1i 1"
    # a backslash ending a tag value cannot be written at all: U+FF3C takes its place
    assert _line(tags={"ifAlias": "to dc1\\"}) == rf"m,ifAlias=to\ dc1{BS} v=1i 1"
    # before an escaped character or another backslash the servers read it differently
    assert _line(tags={"p": "a\\,b"}) == rf"m,p=a{BS}\,b v=1i 1"
    assert _line(tags={"p": "\\\\srv\\share"}) == rf"m,p={BS}\srv\share v=1i 1"
    # any other backslash is literal for InfluxDB and VictoriaMetrics alike
    assert _line(tags={"p": "C:\\dir"}) == r"m,p=C:\dir v=1i 1"
    assert _line(measurement="#not a comment") == rf"{HASH}not\ a\ comment v=1i 1"
    assert _line(measurement="a=b,c") == r"a=b\,c v=1i 1"


def test_string_fields_keep_their_text_but_not_line_breaks():
    line = _line(fields={"sysDescr": 'Cisco IOS\r\nTechnical "Support"\\\tx'})
    assert line == 'm sysDescr="Cisco IOS Technical \\"Support\\"\\\\\tx" 1'


def test_numbers_no_server_accepts_are_left_out_and_big_integers_become_floats():
    assert _line(fields={"a": float("nan"), "b": 2.5}) == "m b=2.5 1"
    assert _line(fields={"a": float("inf")}) is None  # nothing left to write
    assert _line(fields={"c": 2**64 - 1}) == "m c=1.8446744073709552e+19 1"
    assert _line(fields={"c": -(2**63)}) == f"m c={-(2**63)}i 1"
