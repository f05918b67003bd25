"""Any Unicode text through genosd's line-protocol encoder into a real InfluxDB 1.x, and back:
unchanged, or changed exactly as docs/metrics.md says (property test)."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, note, settings
from hypothesis import strategies as st

from genosd.metrics.model import Point
from tests.servers import InfluxV1, free_tcp_port

# any character UTF-8 can carry (no lone surrogates), weighted towards the ones that need care
SPECIAL = st.sampled_from([*',= \\"#\n\r\t\x00\x7f', "\r\n", "\\\\", "\\,", "é", "🙂"])
TEXT = st.lists(st.one_of(SPECIAL, st.characters(exclude_categories=["Cs"])), max_size=12).map(
    "".join
)
NAME = TEXT.filter(lambda s: s != "")


def documented(text: str, kind: str = "tag") -> str:
    """What docs/metrics.md promises a server stores for `text` as a tag, name or string field."""
    if kind == "string":
        return re.sub(r"\r\n|[\x00-\x08\x0a-\x1f\x7f]", " ", text)
    text = re.sub(r"\r\n|[\x00-\x1f\x7f]", " ", text)
    before = "[\\\\, =]" if kind == "tag" else '[\\\\, ="]'
    text = re.sub(r"\\(?=" + before + "|$)", "\uff3c", text)
    return "\uff03" + text[1:] if kind == "measurement" and text.startswith("#") else text


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxV1]:
    directory: Path = tmp_path_factory.mktemp("influx-roundtrip")
    server = InfluxV1(directory, free_tcp_port())
    server.start()
    yield server
    server.stop()


databases = itertools.count()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(measurement=NAME, tag_key=NAME, tag_value=TEXT, field_key=NAME, text=TEXT)
@example("#uplink, rack 4", "if=Alias", "to core\\", "descr, long", 'Cisco IOS\r\n"x"\\')
@example("interface", "ifAlias", "a\\,b\\\\c\nd", "f", "tab\tkept")
def test_any_text_reaches_influxdb_as_documented(
    influx: InfluxV1, measurement: str, tag_key: str, tag_value: str, field_key: str, text: str
) -> None:
    keys = {documented(tag_key), documented(field_key, "name"), "n", "time"}
    assume(len(keys) == 4)  # distinct, and not InfluxDB's reserved key `time`
    db = f"p{next(databases)}"
    http = httpx.Client(base_url=influx.url, timeout=10)
    http.post("/query", params={"q": f"CREATE DATABASE {db}"}).raise_for_status()
    point = Point(measurement, {tag_key: tag_value}, {field_key: text, "n": 1}, 1_000_000_000)
    line = point.to_line()
    note(f"{measurement=!r} {tag_key=!r} {tag_value=!r} {field_key=!r} {text=!r} {line=!r}")
    assert line is not None and "\n" not in line
    written = http.post("/write", params={"db": db, "precision": "ns"}, content=line.encode())
    assert written.status_code == 204, (line, written.text)

    answer = http.get("/query", params={"db": db, "q": "SELECT * FROM /.*/"}).json()
    [series] = answer["results"][0]["series"]
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert series["name"] == documented(measurement, "measurement")
    assert row["n"] == 1
    assert row[documented(field_key, "name")] == documented(text, "string")
    if tag_value:
        assert row[documented(tag_key)] == documented(tag_value)
    else:  # an empty tag value is left out, as InfluxDB requires
        assert set(row) == {"time", "n", documented(field_key, "name")}


def test_victoriametrics_reads_the_same_tag_values(victoria: str) -> None:
    """VictoriaMetrics unescapes `\\\\` where InfluxDB does not: genosd never writes it."""
    values = ["to core\\", "a\\,b\\\\c", "C:\\dir", "core-1\nlab", "x y=z,w"]
    now = time.time_ns()  # within VictoriaMetrics' retention
    lines = [
        Point("rt", {"case": str(n), "alias": value}, {"v": n}, now).to_line()
        for n, value in enumerate(values)
    ]
    httpx.post(
        f"{victoria}/api/v2/write",
        params={"bucket": "b", "org": "o", "precision": "ns"},
        content="\n".join(line for line in lines if line).encode(),
    ).raise_for_status()
    deadline = time.monotonic() + 30
    while True:
        exported = httpx.post(f"{victoria}/api/v1/export", data={"match[]": '{__name__="rt_v"}'})
        rows = [json.loads(line) for line in exported.text.splitlines() if line]
        if len(rows) == len(values) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    stored = {int(r["metric"]["case"]): r["metric"]["alias"] for r in rows}
    assert stored == {n: documented(value) for n, value in enumerate(values)}
