"""Settings export and import: no secret leaves, secrets are kept, bad files change nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genosd.errors import ConfigError
from genosd.settings import load_settings
from genosd.settings_io import apply_import, plan_import, render_export

CONFIG = """state_dir: {state}
api: {{port: 9999, allowed_origins: [https://console.example.net]}}
credentials:
  ro: {{community: c0mmunity-s3cret}}
  v3: {{username: mon, auth_protocol: SHA, auth_key: authkey-s3cret}}
influx: {{url: "http://influx:8086", token: t0ken-s3cret}}
plugins:
  flapdetect: {{threshold: 4}}
  chatops: {{slack: {{signing_secret: signing-s3cret, channel: noc}}}}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "genosd.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    return path


def test_export_leaves_out_every_secret_and_names_them(config: Path):
    text = render_export(load_settings(config))
    assert "s3cret" not in text
    for omitted in (
        "credentials.ro.community",
        "credentials.v3.auth_key",
        "influx.token",
        "plugins.chatops.slack.signing_secret",
    ):
        assert f"# omitted secret: {omitted}\n" in text
    data = yaml.safe_load(text)
    assert data["api"] == {"port": 9999, "allowed_origins": ["https://console.example.net"]}
    assert data["credentials"]["v3"] == {"username": "mon", "auth_protocol": "SHA"}
    assert data["plugins"] == {
        "flapdetect": {"threshold": 4},
        "chatops": {"slack": {"channel": "noc"}},
    }
    assert "poller" not in data  # defaults are not exported


def test_import_keeps_current_secrets_drops_removed_sections_and_backs_up(
    config: Path, tmp_path: Path
):
    exported = tmp_path / "export.yaml"
    data = yaml.safe_load(render_export(load_settings(config)))
    data["api"]["port"] = 9444
    del data["credentials"]["v3"]  # removed by the operator: its key must not come back
    exported.write_text(yaml.safe_dump(data))
    before = config.read_text()
    plan = plan_import(exported, config)
    assert "s3cret" not in plan.diff and "+  port: 9444" in plan.diff
    assert "credentials.v3.auth_key" not in plan.kept_secrets
    assert set(plan.kept_secrets) == {
        "credentials.ro.community",
        "influx.token",
        "plugins.chatops.slack.signing_secret",
    }
    backup = apply_import(plan)
    assert backup is not None and backup.read_text() == before
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    settings = load_settings(config)
    assert settings.api.port == 9444 and "v3" not in settings.credentials
    community, token = settings.credentials["ro"].community, settings.influx.token
    assert community is not None and community.get_secret_value() == "c0mmunity-s3cret"
    assert token is not None and token.get_secret_value() == "t0ken-s3cret"


def test_a_bad_import_names_file_line_and_field_and_writes_nothing(config: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("api:\n  port: 99999\n")
    before = config.read_text()
    with pytest.raises(ConfigError) as err:
        plan_import(bad, config)
    assert "bad.yaml:2: api.port" in str(err.value)
    assert config.read_text() == before
    assert list(tmp_path.glob("genosd.yaml.bak-*")) == []


def test_cli_round_trip_is_audited(config: Path, tmp_path: Path):
    genosd = str(Path(sys.executable).parent / "genosd")
    env = {**os.environ, "COLUMNS": "200"}
    export = subprocess.run(
        [genosd, "settings", "export", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "s3cret" not in export.stdout
    (tmp_path / "export.yaml").write_text(export.stdout.replace("threshold: 4", "threshold: 6"))
    dry = subprocess.run(
        [
            genosd,
            "settings",
            "import",
            str(tmp_path / "export.yaml"),
            "--config",
            str(config),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert dry.returncode == 0 and "+    threshold: 6" in dry.stdout and "dry run" in dry.stderr
    assert "threshold: 4" in config.read_text()
    done = subprocess.run(
        [genosd, "settings", "import", str(tmp_path / "export.yaml"), "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "threshold: 6" in config.read_text() and "s3cret" not in done.stdout + done.stderr
    log = subprocess.run(
        [genosd, "audit", "export", "--config", str(config), "--action", "import_settings"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert '"action": "import_settings"' in log.stdout and '"diff_hash": "' in log.stdout
