"""`genosd incidents` and `genosd silences` on the state database: the API's workflows, audited,
notifications queued for the daemon to send; bad input exits 2 with the reason."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from genosd.alerts.engine import Alert
from genosd.app.incidents import list_silences, record_fired
from genosd.cli import app
from genosd.statedb import connect, state_db_path


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--config", str(config)])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_acknowledge_resolve_note_and_silences(tmp_path: Path) -> None:
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "alerts: {webhooks: {noc: {url: 'http://127.0.0.1:9/hook'}}}\n"
    )
    db = connect(state_db_path(tmp_path / "state"))
    now = time.time()
    alert = Alert("device_down", "device_down|device=sw1", "critical",
                  {"alertname": "device_down", "device": "sw1"}, "sw1 does not answer", None,
                  now, now)  # fmt: skip
    change = record_fired(db, alert, "device=sw1", None)
    assert change.action == "opened" and change.incident is not None
    number = str(change.incident)
    code, output = _cli(config, "incidents", "list", "--json")
    assert code == 0 and [i["title"] for i in json.loads(output)] == ["sw1 does not answer"]
    assert _cli(config, "incidents", "ack", number, "--note", "looking")[0] == 0
    code, output = _cli(config, "incidents", "ack", number)
    assert code == 2 and "acknowledged, not open" in output
    assert _cli(config, "incidents", "note", number, "power cut in rack 4")[0] == 0
    assert _cli(config, "incidents", "resolve", number)[0] == 0
    code, output = _cli(config, "incidents", "show", number, "--json")
    shown = json.loads(output)
    assert shown["status"] == "resolved" and shown["resolved_by"].startswith("cli:")
    assert [e["kind"] for e in shown["timeline"]] == [
        "alert_fired",
        "acknowledged",
        "note",
        "resolved",
    ]
    queued = db.execute("SELECT target, event, status FROM notifications ORDER BY id").fetchall()
    assert queued == [
        ("webhook:noc", "acknowledged", "pending"),
        ("webhook:noc", "resolved", "pending"),
    ]
    # the same shape the daemon sends: the incident without its timeline, and its alerts
    payload = json.loads(db.execute("SELECT payload FROM notifications LIMIT 1").fetchone()[0])
    assert "timeline" not in payload["incident"] and payload["alerts"][0]["rule"] == "device_down"
    assert _cli(config, "incidents", "show", "999")[0] == 2
    # silences
    code, output = _cli(
        config, "silences", "add", "--match", "device=sw*", "--for", "2h", "--comment", "cable"
    )
    assert code == 0, output
    code, output = _cli(
        config, "silences", "add", "--match", "site=fra1", "--for", "30d", "--cron",
        "0 2 * * 0", "--window", "2h", "--comment", "weekly", "--json",
    )  # fmt: skip
    window = json.loads(output)
    assert window["kind"] == "maintenance" and window["duration"] == 7200.0
    assert [s.kind for s in list_silences(db)] == ["silence", "maintenance"]
    assert _cli(config, "silences", "end", "1")[0] == 0
    assert [s.id for s in list_silences(db)] == [window["id"]]
    assert _cli(config, "silences", "add", "--match", "x", "--for", "1h", "--comment", "c")[0] == 2
    code, output = _cli(
        config, "silences", "add", "--match", "a=b", "--for", "1h", "--comment", "c", "--cron",
        "every sunday",
    )  # fmt: skip
    assert code == 2 and "cron" in output
    actions = [r[0] for r in db.execute("SELECT action FROM audit ORDER BY id")]
    assert actions == [
        "incident_acknowledged", "incident_note", "incident_resolved", "silence_add",
        "maintenance_add", "silence_end",
    ]  # fmt: skip


def test_syslog_show_filters_and_prints_json(tmp_path: Path) -> None:
    from genosd.app.syslog_store import insert_messages

    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n")
    db = connect(state_db_path(tmp_path / "state"))
    base = {"source": "10.0.0.1", "transport": "udp", "format": "rfc3164", "facility": "local7",
            "facility_code": 23, "timestamp": None, "hostname": None, "app": None,
            "procid": None, "msgid": None, "structured": {}}  # fmt: skip
    insert_messages(db, [
        {**base, "received_at": time.time() - 60, "device": "sw1", "severity": "err",
         "severity_code": 3, "message": "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
         "event": {"kind": "link_down", "interface": "Gi0/1"}},
        {**base, "received_at": time.time(), "device": "r1", "severity": "info",
         "severity_code": 6, "message": "hello", "event": None},
    ])  # fmt: skip
    code, output = _cli(config, "syslog", "show", "--json")
    assert code == 0 and [m["message"] for m in json.loads(output)] == [
        "hello",
        "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down",
    ]
    code, output = _cli(config, "syslog", "show", "--event", "any", "--severity", "err", "--json")
    (found,) = json.loads(output)
    assert found["device"] == "sw1" and found["event"]["interface"] == "Gi0/1"
    code, output = _cli(config, "syslog", "show", "--grep", "HELLO", "--device", "r1")
    assert code == 0 and "hello" in output
    assert _cli(config, "syslog", "show", "--severity", "loud")[0] == 2
