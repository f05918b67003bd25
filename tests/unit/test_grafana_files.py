"""genosd's Grafana files: the dashboards are what the generator makes (Grafana's own model,
one schema version), every query names only what genosd writes (docs/metrics.md), every variable
a query uses is defined, and the provisioning points at what the dashboards use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from genosd.dashboards import FILES, dashboards, install
from genosd.dashboards.build import BOARDS, SCHEMA_VERSION, render

ROOT = Path(__file__).resolve().parents[2]
COMMON_TAGS = {"agent_host", "hostname", "device", "site", "role", "group"}


def metrics_schema() -> dict[str, tuple[set[str], set[str]]]:
    """measurement -> (tags, fields), read from docs/metrics.md's table."""
    schema = {}
    for line in (ROOT / "docs" / "metrics.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        if len(names) != 1:
            continue  # the MIB profiles' row names many
        tags = set(re.findall(r"`([A-Za-z_]+)`", cells[1])) | COMMON_TAGS
        fields = set(re.findall(r"`([A-Za-z_0-9]+)`", cells[2]))
        schema[names[0]] = (tags, fields)
    return schema


def queries(board: dict) -> list[tuple[str, str]]:
    """(panel title, InfluxQL) of every InfluxDB target, annotations and variables included."""
    found = [
        (panel["title"], target["query"])
        for panel in board["panels"]
        for target in panel["targets"]
        if target["datasource"]["type"] == "influxdb"
    ]
    found += [(a["name"], a["query"]) for a in board["annotations"].get("list", [])]
    found += [
        (f"variable {v['name']}", v["query"])
        for v in board["templating"]["list"]
        if v["type"] == "query"
    ]
    return found


def test_the_files_are_what_the_generator_makes():
    shipped = dashboards()
    assert set(shipped) == set(BOARDS)
    for uid in BOARDS:
        assert shipped[uid] == render(uid), f"{uid}: run python -m genosd.dashboards.build"
        assert (ROOT / "grafana" / "dashboards" / f"{uid}.json").is_file()
    assert FILES.resolve() == (ROOT / "grafana").resolve()  # the package ships the repo's files


def test_grafanas_model_reads_them_back_unchanged():
    for uid, board in dashboards().items():
        assert board["schemaVersion"] == SCHEMA_VERSION
        model = Dashboard.from_json(board)
        again = json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json()))
        assert again["uid"] == uid and again["title"] == board["title"]
        assert len(again["panels"]) == len(board["panels"]) > 0
        assert [p["title"] for p in again["panels"]] == [p["title"] for p in board["panels"]]
        assert all(
            p["datasource"]["uid"] in ("${datasource}", "${prometheus}") for p in board["panels"]
        )


def test_queries_name_only_what_genosd_writes():
    schema = metrics_schema()
    assert {"interface", "snmp", "snmp_cpu", "snmp_mem", "genosd_poll"} <= set(schema)
    for uid, board in dashboards().items():
        defined = {v["name"] for v in board["templating"]["list"]} | {"timeFilter", "__interval"}
        for title, query in queries(board):
            measurements = set(re.findall(r'FROM "([^"]+)"', query))
            assert measurements and measurements <= set(schema), (uid, title, measurements)
            tags = set().union(*(schema[m][0] for m in measurements))
            fields = set().union(*(schema[m][1] for m in measurements))
            aliases = set(re.findall(r'AS "([^"]+)"', query))
            for name in re.findall(r'"([^"]+)"', query):
                assert name in measurements | tags | fields | aliases, (uid, title, name)
            for variable in re.findall(r"\$(\w+)", query):
                if variable.startswith("tag_"):
                    continue
                assert variable in defined, (uid, title, variable)


def test_provisioning_and_install(tmp_path: Path):
    sources = yaml.safe_load((FILES / "provisioning/datasources/genosd.yaml").read_text())
    uids = {s["uid"]: s for s in sources["datasources"]}
    assert uids["genosd-influxdb"]["type"] == "influxdb" and uids["genosd-influxdb"]["isDefault"]
    assert uids["genosd-prometheus"]["type"] == "prometheus"
    assert "password" not in uids["genosd-influxdb"].get("jsonData", {})
    written = install(
        tmp_path / "grafana",
        influx_url="http://influx.example:8086",
        database="net",
        prometheus_url="http://prom.example:9090",
    )
    assert len(written) == 2 + len(BOARDS)
    installed = yaml.safe_load(
        (tmp_path / "grafana/provisioning/datasources/genosd.yaml").read_text()
    )
    influx = next(s for s in installed["datasources"] if s["type"] == "influxdb")
    assert influx["url"] == "http://influx.example:8086" and influx["jsonData"]["dbName"] == "net"
    assert influx["secureJsonData"]["password"] == "$GENOSD_INFLUX_PASSWORD"  # from Grafana's env
    providers = yaml.safe_load(
        (tmp_path / "grafana/provisioning/dashboards/genosd.yaml").read_text()
    )
    path = Path(providers["providers"][0]["options"]["path"])
    assert sorted(p.name for p in path.glob("*.json")) == sorted(f"{u}.json" for u in BOARDS)
