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
