from pathlib import Path

import pytest

from genosd.errors import ConfigError, InventoryError
from genosd.inventory import load_inventory, parse_filters
from genosd.settings import load_settings


def test_bad_settings_name_file_line_and_field(tmp_path: Path):
    cfg = tmp_path / "genosd.yaml"
    cfg.write_text("api:\n  port: 99999\npoller:\n  interval: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    text = str(err.value)
    assert f"{cfg}:2: api.port" in text
    assert f"{cfg}:4: poller.interval" in text


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    cfg = tmp_path / "genosd.yaml"
    cfg.write_text("api:\n  port: 1\n bad: [\n")
    with pytest.raises(ConfigError, match=r"genosd.yaml:3"):
        load_settings(cfg)


def test_env_overrides_file_and_secrets_dir_supplies_credentials(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "genosd.yaml"
    cfg.write_text("api:\n  port: 1000\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "credentials__core__community").write_text("s3cret\n")
    monkeypatch.setenv("GENOSD_API__PORT", "2000")
    settings = load_settings(cfg, extra_secrets_dirs=[secrets])
    assert settings.api.port == 2000
    community = settings.credentials["core"].community
    assert community is not None and community.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.public_summary())


def _inventory(tmp_path: Path, hosts: str, groups: str = "") -> Path:
    (tmp_path / "hosts.yaml").write_text(hosts)
    if groups:
        (tmp_path / "groups.yaml").write_text(groups)
    return tmp_path


def test_inventory_refuses_inline_secrets(tmp_path: Path):
    inv = _inventory(
        tmp_path, "r1:\n  hostname: 10.0.0.1\n  data:\n    snmp:\n      community: public\n"
    )
    with pytest.raises(InventoryError, match=r"hosts.yaml:5: r1.data.snmp.community"):
        load_inventory(inv, load_settings(None))


def test_inventory_unknown_snmp_version_names_host_and_line(tmp_path: Path):
    inv = _inventory(tmp_path, "r1:\n  data:\n    snmp:\n      version: 4\n      credential: x\n")
    with pytest.raises(InventoryError, match=r"hosts.yaml:4: r1.data.snmp.version"):
        load_inventory(inv, load_settings(None))


def test_inventory_unknown_credential_and_group(tmp_path: Path):
    inv = _inventory(tmp_path, "r1:\n  groups: [nope]\n  data:\n    snmp: {credential: missing}\n")
    with pytest.raises(InventoryError, match="unknown group 'nope'"):
        load_inventory(inv, load_settings(None))
    inv = _inventory(tmp_path, "r1:\n  data:\n    snmp: {credential: missing}\n")
    with pytest.raises(InventoryError, match="credential 'missing' is not defined"):
        load_inventory(inv, load_settings(None))


def test_group_data_merges_below_host_data_and_filters_work(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GENOSD_CREDENTIALS__RO__COMMUNITY", "c1")
    monkeypatch.setenv("GENOSD_CREDENTIALS__V3__USERNAME", "mon")
    monkeypatch.setenv("GENOSD_CREDENTIALS__V3__AUTH_PROTOCOL", "SHA")
    monkeypatch.setenv("GENOSD_CREDENTIALS__V3__AUTH_KEY", "authkey123")
    inv = _inventory(
        tmp_path,
        "r1:\n  groups: [core]\n  data: {snmp: {port: 1161}}\n"
        "r2:\n  groups: [edge]\n  data: {tags: [pe], snmp: {version: 3, credential: v3}}\n",
        "core:\n  data: {snmp: {credential: ro, interval: 30}, tags: [bb]}\nedge:\n  groups: [core]\n",
    )
    inventory = load_inventory(inv, load_settings(None))
    r1, r2 = inventory.devices["r1"].snmp, inventory.devices["r2"].snmp
    assert r1 is not None and r2 is not None
    assert (r1.port, r1.interval, r1.version) == (1161, 30, "2c")
    assert r2.version == "3" and r2.credential.username == "mon"
    r2_device = inventory.devices["r2"]
    assert r2_device.groups == ("edge", "core") and r2_device.tags == ("pe", "bb")
    assert [d.name for d in inventory.select(parse_filters(["group=core"]))] == ["r1", "r2"]
    assert [d.name for d in inventory.select(parse_filters(["tag=pe"]))] == ["r2"]


def test_systemd_directory_credentials_and_later_directories_win(tmp_path: Path, monkeypatch):
    # LoadCredential=genosd:/etc/genosd/credentials hands files over as genosd_<file name>
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "genosd_credentials__core__community").write_text("from-systemd\n")
    (credentials / "genosd_influx__token").write_text("tok\n")
    (credentials / "other-service_password").write_text("not ours")
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "credentials__core__community").write_text("from-lab")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_settings(None, extra_secrets_dirs=[lab])
    assert settings.influx.token is not None and settings.influx.token.get_secret_value() == "tok"
    community = settings.credentials["core"].community
    assert community is not None and community.get_secret_value() == "from-lab"


def test_a_secrets_directory_that_is_missing_is_a_config_error(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GENOSD_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"\$GENOSD_SECRETS_DIR .*nowhere does not exist"):
        load_settings(None)


def test_a_typo_in_a_secret_file_name_is_reported_like_a_typo_in_the_file(tmp_path: Path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "influx__tokn").write_text("x")
    with pytest.raises(ConfigError, match=r"influx.tokn: Extra inputs are not permitted"):
        load_settings(None, extra_secrets_dirs=[secrets])


def test_every_inventory_problem_is_reported_in_one_pass(tmp_path: Path):
    inv = _inventory(
        tmp_path,
        "r1:\n  groups: [nope]\n  data: {snmp: {credential: ro}}\n"
        "r2:\n  data: {snmp: {credential: missing}}\n"
        "r3:\n  data: {snmp: {port: 1161}}\n"
        "r4: {platform: ios, data: {ssh: {credential: nobody}}}\n",
        groups="core: {hostname: [not, a, string]}\n",
    )
    with pytest.raises(InventoryError) as error:
        load_inventory(inv, load_settings(None))
    message = str(error.value)
    assert "groups.yaml:1: core.hostname" in message
    assert "r1: unknown group 'nope'" in message
    assert "credential 'missing' is not defined" in message
    assert "r3: data.snmp is set but names no credential" in message
    assert "r4: SSH credential 'nobody' is not defined" in message


def test_a_duplicate_key_is_an_error_not_a_silent_override(tmp_path: Path):
    inv = _inventory(tmp_path, "r1: {hostname: 10.0.0.1}\nr2: {}\nr1: {hostname: 10.0.0.2}\n")
    with pytest.raises(
        InventoryError, match=r"hosts.yaml:3: r1: duplicate key \(first at line 1\)"
    ):
        load_inventory(inv, load_settings(None))
    config = tmp_path / "genosd.yaml"
    config.write_text("api:\n  port: 1\n  host: 0.0.0.0\n  port: 2\n")
    with pytest.raises(ConfigError, match=r"genosd.yaml:4: api.port: duplicate key"):
        load_settings(config)


def test_snmp_timing_in_defaults_alone_does_not_need_a_credential(tmp_path: Path):
    inv = _inventory(tmp_path, "r1: {hostname: 10.0.0.1}\n")
    (inv / "defaults.yaml").write_text("data: {snmp: {interval: 30}}\n")
    assert load_inventory(inv, load_settings(None)).devices["r1"].snmp is None
    (inv / "hosts.yaml").write_text("r1: {data: {snmp: {port: 1161, enabled: false}}}\n")
    assert load_inventory(inv, load_settings(None)).devices["r1"].snmp is None


def test_secrets_dir_in_the_settings_file_supplies_secrets(tmp_path: Path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "credentials__ro__community").write_text("public\n")
    config = tmp_path / "genosd.yaml"
    config.write_text(f"secrets_dir: {secrets}\n")
    community = load_settings(config).credentials["ro"].community
    assert community is not None and community.get_secret_value() == "public"
