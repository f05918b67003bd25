"""The lab counts as running only when snmpsim and the SSH devices both run; stop ends what is left."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path

from genosd.lab.manager import Lab, LabState


def test_half_a_lab_is_not_running_and_stop_ends_what_is_left(tmp_path: Path):
    lab = Lab(tmp_path / "state")
    lab.root.mkdir(parents=True)
    alive = subprocess.Popen(["sleep", "60"], start_new_session=True)
    dead = subprocess.Popen(["true"], start_new_session=True)
    dead.wait()
    try:
        state = LabState(alive.pid, 1161, "inv", "sec", 0.0, ssh_pid=dead.pid, ssh_ports={"r": 1})
        lab.state_file.write_text(json.dumps(asdict(state)))
        assert lab.status() is None  # the SSH devices are gone: `lab up` must start afresh
        assert lab.stop() is True
        assert alive.wait(timeout=10) is not None  # the leftover snmpsim stand-in was stopped
        assert not lab.state_file.exists() and lab.stop() is False
    finally:
        alive.kill()
