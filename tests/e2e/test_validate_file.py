"""`genosd config validate --file`: any config file checked, as text, JSON and SARIF, with exit codes
a CI job can use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.compliance_set import SET, load_labelled


def _genosd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "genosd"), *args]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_files_are_checked_as_text_json_and_sarif(tmp_path: Path):
    legacy, clean = (
        load_labelled(SET / "ios" / "legacy-router.cfg"),
        SET / "ios" / "clean-router.cfg",
    )
    (tmp_path / "legacy.cfg").write_text(legacy.text)
    templates = Path(__file__).parent.parent.parent / "templates"
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\nconfigs: {{templates_dir: {templates}}}\n"
    )
    c = ("--config", str(tmp_path / "genosd.yaml"))

    ok = _genosd("config", "validate", "--file", str(clean), *c, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "(ios, detected): score 100%" in ok.stdout
    assert not (tmp_path / "state").exists()  # checking a file writes nothing

    bad = _genosd("config", "validate", "--file", "legacy.cfg", "--json", *c, cwd=tmp_path)
    assert bad.returncode == 1  # a critical finding (telnet on the VTYs)
    [report] = json.loads(bad.stdout)
    got = sorted(((f["rule"], f["line"]) for f in report["findings"]), key=str)
    assert got == sorted(legacy.expected, key=str)

    sarif = _genosd(
        "config", "validate", "--file", "legacy.cfg", "--format", "sarif", *c, cwd=tmp_path
    )
    document = json.loads(sarif.stdout)
    results = document["runs"][0]["results"]
    assert document["version"] == "2.1.0" and len(results) == len(legacy.expected)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {
        "legacy.cfg"
    }

    (tmp_path / "unknown.txt").write_text("hello\n")
    unknown = _genosd("config", "validate", "--file", "unknown.txt", *c, cwd=tmp_path)
    assert unknown.returncode == 2 and "--platform" not in unknown.stdout
    assert "cannot tell which platform" in unknown.stderr
    given = _genosd(
        "config",
        "validate",
        "--file",
        "unknown.txt",
        "--platform",
        "ios",
        "--json",
        *c,
        cwd=tmp_path,
    )
    assert json.loads(given.stdout)[0]["platform_detected"] is False

    curly = Path(__file__).parent.parent / "data" / "secrets" / "junos-curly.cfg"
    (tmp_path / "mx.conf").write_text(curly.read_text().replace("«", "").replace("»", ""))
    junos = _genosd("config", "validate", "--file", "mx.conf", "--json", *c, cwd=tmp_path)
    [checked] = json.loads(junos.stdout)
    assert checked["platform"] == "junos" and checked["converted_to_set"] is True
    assert checked["rules_applied"] > 20
    assert "junos-root-password" not in {f["rule"] for f in checked["findings"]}  # it has one

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text("rules:\n  - id: x\n    must_contain: [1\n")
    (tmp_path / "genosd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\nconfigs: {{baselines: [{tmp_path / 'rules'}]}}\n"
    )
    broken = _genosd("config", "validate", "--file", "legacy.cfg", *c, cwd=tmp_path)
    assert broken.returncode == 78 and "bad.yaml" in broken.stderr
