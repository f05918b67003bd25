"""Whether a process still runs: how a lock or a job held by a process that died is recognised."""

from __future__ import annotations

import os
import resource


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


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one; the new soft limit.

    The poller keeps a UDP socket per SNMP device and systemd's default soft limit is 1024 (the
    hard one far higher), so a large inventory needs this the way Go's runtime does it for every
    program.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
