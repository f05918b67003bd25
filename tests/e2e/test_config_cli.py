"""`genosd inventory trust` and `genosd config backup|versions|show|diff` as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from netmiko import ConnectHandler

from tests.ssh_lab import PASSWORD, SECRET, USER


async def _genosd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "genosd"), *args]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, env=env)


def _setup(tmp_path: Path, ports: dict[str, int]) -> tuple[Path, dict[str, str]]:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    hosts = "".join(
        f"{name}: {{hostname: 127.0.0.1, platform: ios, data: {{ssh: {{port: {port}}}}}}}\n"
        for name, port in ports.items()
    )
    (inventory / "hosts.yaml").write_text(hosts)
    (inventory / "defaults.yaml").write_text("data: {ssh: {credential: lab, timeout: 10}}\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ssh_credentials__lab__password").write_text(PASSWORD)
    (secrets / "ssh_credentials__lab__enable_secret").write_text(SECRET)
    config = tmp_path / "genosd.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n"
        f"ssh_credentials: {{lab: {{username: {USER}}}}}\n"
        "ssh: {host_key_policy: strict}\n"
    )
    return config, {**os.environ, "GENOSD_SECRETS_DIR": str(secrets), "COLUMNS": "200"}


async def test_trust_backup_versions_show_diff(ssh_lab, tmp_path: Path):
    config, env = _setup(tmp_path, ssh_lab.ports)
    c = ("--config", str(config))
    refused = await _genosd("config", "backup", *c, "--json", env=env)
    assert refused.returncode == 1
    assert all("not pinned" in r["error"] for r in json.loads(refused.stdout))

    trusted = await _genosd("inventory", "trust", *c, env=env)
    assert trusted.returncode == 0, trusted.stderr
    assert "r1: pinned ssh-ed25519" in trusted.stderr
    first = await _genosd("config", "backup", *c, "--json", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert [(r["device"], r["changed"]) for r in json.loads(first.stdout)] == [
        ("r1", True),
        ("r2", True),
    ]

    def change() -> None:
        with ConnectHandler(
            device_type="cisco_ios",
            host="127.0.0.1",
            port=ssh_lab.ports["r2"],
            username=USER,
            password=PASSWORD,
            secret=SECRET,
        ) as conn:
            conn.send_config_set(["ntp server 192.0.2.10"])

    await asyncio.to_thread(change)
    second = await _genosd("config", "backup", *c, "--json", env=env)
    assert [r["changed"] for r in json.loads(second.stdout)] == [False, True]
    versions = json.loads((await _genosd("config", "versions", "r2", *c, "--json", env=env)).stdout)
    assert len(versions) == 2 and versions[0]["author"].startswith("cli:")
    diff = await _genosd("config", "diff", "r2", versions[1]["id"][:8], *c, env=env)
    assert "+ntp server 192.0.2.10" in diff.stdout
    shown = await _genosd("config", "show", "r2", *c, env=env)
    assert "ntp server 192.0.2.10" in shown.stdout and "s3cret-community" not in shown.stdout

    await ssh_lab.replace_host_key("r1")
    changed = await _genosd("inventory", "trust", *c, env=env)
    assert changed.returncode == 1 and "key CHANGED" in changed.stderr
    replaced = await _genosd("inventory", "trust", *c, "--replace", "--filter", "name=r1", env=env)
    assert replaced.returncode == 0 and "r1: replaced ssh-ed25519 SHA256:" in replaced.stderr
    # re-pinning a key is audited with both fingerprints (and raised as an alert to the daemon)
    exported = await _genosd("audit", "export", "--action", "replace_ssh_host_key", *c, env=env)
    [entry] = json.loads(exported.stdout)
    assert entry["target"] == "device:r1" and entry["actor"].startswith("cli:")
    assert entry["details"]["old"] != entry["details"]["new"]
    assert entry["details"]["new"] in replaced.stderr
