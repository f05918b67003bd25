"""Whether a process still runs: how a lock or a job held by a process that died is recognised."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """Whether a process `pid` exists on this host (None: no process)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
