"""Broken plugins against the daemon as a real process: it starts without them, or exits 78."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_daemon_process import _genosd
from tests.plugin_dist import write_dist
from tests.servers import free_tcp_port


def _setup(tmp_path: Path, plugins: str) -> tuple[Path, dict[str, str]]:
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text("r1: {hostname: 127.0.0.1, platform: ios}\n")
    config = tmp_path / "genosd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\ninventory_dir: {inventory}\n{plugins}")
    paths = [str(p) for p in write_dist(tmp_path / "site")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "COLUMNS": "200"}
    return config, env


def test_daemon_runs_with_broken_plugins_and_check_config_names_them(tmp_path: Path):
    config, env = _setup(tmp_path, "plugins:\n  badconfig: {threshold: lots}\n")
    check = _genosd("check-config", "--config", str(config), env=env, cwd=tmp_path)
    out, _ = check.communicate(timeout=60)
    assert check.returncode == 78, out
    text = out.decode()
    for expected in (
        "importerror: import failed: ImportError",
        "plugins.badconfig.threshold",
        "raises: hook genosd_tools raised RuntimeError",
        "unknownhook",
    ):
        assert expected in text, text
    genosd = str(Path(sys.executable).parent / "genosd")
    created = subprocess.run(
        [genosd, "keys", "create", "--role", "viewer", "--config", str(config), "--json"],
        capture_output=True,
        env=env,
        check=True,
    )
    auth = {"Authorization": "Bearer " + json.loads(created.stdout)["secret"]}
    # plugin commands: a working one runs with its settings and audits; a failing hook or import
    # costs that plugin its commands, with a warning, and nothing else
    greeted = subprocess.run(
        [genosd, "good", "greet", "ops", "--config", str(config)], capture_output=True, env=env
    )
    assert greeted.returncode == 0, greeted.stderr
    assert greeted.stdout.decode().startswith("hello ops from cli:")
    stderr = greeted.stderr.decode()
    assert "plugin raises: its commands are unavailable: no commands today" in stderr
    assert "plugin importerror: its commands are unavailable" in stderr
    audit = subprocess.run(
        [genosd, "audit", "export", "--config", str(config)], capture_output=True, env=env
    )
    assert '"good.greet"' in audit.stdout.decode(), audit.stderr
    port = free_tcp_port()
    proc = _genosd(
        "run", "--config", str(config), env={**env, "GENOSD_API__PORT": str(port)}, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/plugins", headers=auth)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.3)
        states = {p["name"]: p["state"] for p in answer.json()["items"]}
        assert states["good"] == "active" and states["flapdetect"] == "active"
        assert states["importerror"] == states["badconfig"] == states["raises"] == "failed"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert b"plugin importerror disabled: import failed" in out


def test_a_required_plugin_that_fails_stops_the_daemon_with_78(tmp_path: Path):
    config, env = _setup(tmp_path, "plugins:\n  raises: {required: true}\n")
    proc = _genosd("run", "--config", str(config), env=env, cwd=tmp_path)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 78
    assert b"required plugins failed to load" in out
    assert b"raises: hook genosd_tools raised RuntimeError: tool registry exploded" in out
