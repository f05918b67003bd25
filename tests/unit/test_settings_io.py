"""Settings export and import: no secret leaves or enters a settings file, bad files change nothing."""

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
secrets_dir: {secrets}
api: {{port: 9999, allowed_origins: [https://console.example.net]}}
credentials:
  v3: {{username: mon, auth_protocol: SHA}}
influx: {{url: "http://influx:8086"}}
plugins:
  flapdetect: {{threshold: 4}}
  chatops: {{slack: {{channel: noc}}}}
"""
SECRETS = {
    "credentials__ro__community": "c0mmunity-s3cret",
    "credentials__v3__auth_key": "authkey-s3cret",
    "influx__token": "t0ken-s3cret",
    "plugins__chatops__slack__signing_secret": "signing-s3cret",
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in SECRETS.items():
        (secrets / name).write_text(value)
    path = tmp_path / "genosd.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state", secrets=secrets))
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


def test_import_writes_the_file_without_secrets_and_backs_up(config: Path, tmp_path: Path):
    exported = tmp_path / "export.yaml"
    data = yaml.safe_load(render_export(load_settings(config)))
    data["api"]["port"] = 9444
    exported.write_text(yaml.safe_dump(data))
    before = config.read_text()
    plan = plan_import(exported, config)
    assert "s3cret" not in plan.diff + plan.text and "+  port: 9444" in plan.diff
    backup = apply_import(plan)
    assert backup is not None and backup.read_text() == before
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    settings = load_settings(config)  # the secrets still come from the secrets directory
    assert settings.api.port == 9444
    community, token = settings.credentials["ro"].community, settings.influx.token
    assert community is not None and community.get_secret_value() == "c0mmunity-s3cret"
    assert token is not None and token.get_secret_value() == "t0ken-s3cret"


def test_a_secret_in_a_settings_file_is_refused_with_where_it_belongs(tmp_path: Path):
    path = tmp_path / "genosd.yaml"
    path.write_text("api: {port: 9000}\ncredentials:\n  core:\n    community: s3cret\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    message = str(refused.value)
    assert "secrets do not belong in the settings file" in message
    assert "genosd.yaml:4: credentials.core.community: put it in a file named" in message
    assert "credentials__core__community" in message and "s3cret" not in message
    with pytest.raises(ConfigError, match="secrets do not belong"):
        plan_import(path, tmp_path / "target.yaml")  # an import cannot bring one in either


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
