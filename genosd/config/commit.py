"""How a platform makes pushed lines live: line by line, `commit confirmed`, or an EOS session.

A deploy pushes, verifies, then confirms; on a failure it discards what the device still holds
pending and reverts. With `commit confirmed` (Junos) and a configuration session committed with a
timer (EOS) the device itself reverts an unconfirmed push, so genosd losing the device after the
push leaves it as it was; line by line (IOS, NX-OS) genosd's own rollback is the only way back.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from typing import Any

from genosd.errors import DeviceError
from genosd.platforms import Platform


class CommitModel:
    """Line by line in config mode; `write memory` once verified."""

    reverts_by_itself = False  # an unconfirmed push is undone by the device when genosd is gone
    how = ""  # the device feature that reverts by itself, for the operator

    def __init__(self, platform: Platform, change: str):
        self.platform = platform
        self.change = change  # names what the device keeps of this deploy (e.g. a session)

    def push(
        self, conn: Any, lines: list[str], timeout: float, confirm_minutes: int | None
    ) -> None:
        """Send `lines`; with `confirm_minutes`, so that they revert unless confirmed in time."""
        try:
            conn.send_config_set(
                lines, error_pattern=self.platform.config_error, read_timeout=timeout
            )
        except Exception:
            # a refused line leaves the session in config mode, where IOS refuses the `show`s
            # the rollback reads with; a dead session fails here too, and the rollback reconnects
            with contextlib.suppress(Exception):
                conn.exit_config_mode()
            raise

    def confirm(self, conn: Any, timeout: float, save: bool) -> None:
        """Make a verified push permanent."""
        if save:
            conn.save_config()

    def discard(self, conn: Any, timeout: float) -> None:
        """Before a rollback: drop what the device still holds of the push."""


class CommitConfirmed(CommitModel):
    """Junos: a shared candidate, activated by `commit confirmed N`, confirmed by a plain commit."""

    reverts_by_itself = True
    how = "commit confirmed"

    def push(
        self, conn: Any, lines: list[str], timeout: float, confirm_minutes: int | None
    ) -> None:
        """Load the candidate and commit it (confirmed when `confirm_minutes` is given)."""
        conn.send_config_set(
            lines,
            error_pattern=self.platform.config_error,
            read_timeout=timeout,
            exit_config_mode=False,
        )
        conn.commit(
            confirm=confirm_minutes is not None, confirm_delay=confirm_minutes, read_timeout=timeout
        )
        conn.exit_config_mode()

    def confirm(self, conn: Any, timeout: float, save: bool) -> None:
        """A plain commit confirms `commit confirmed` (and is saved: Junos has no startup file)."""
        conn.commit(read_timeout=timeout)
        conn.exit_config_mode()

    def discard(self, conn: Any, timeout: float) -> None:
        """Throw away candidate lines a cut session may have left."""
        conn.send_config_set(
            ["rollback 0"], error_pattern=self.platform.config_error, read_timeout=timeout
        )


class ConfigSession(CommitModel):
    """EOS: each push is a named `configure session`, committed at once or with `commit timer`.

    A refused line aborts the session, so nothing of a half-pushed change reaches the running
    config; a timed commit is confirmed with `configure session NAME commit` and rolled back at
    once with `configure session NAME abort`.
    """

    reverts_by_itself = True
    how = "commit timer"

    def __init__(self, platform: Platform, change: str):
        super().__init__(platform, change)
        self._numbers = itertools.count(1)
        self.pending: str | None = None  # the session committed with a timer, not yet confirmed

    def push(
        self, conn: Any, lines: list[str], timeout: float, confirm_minutes: int | None
    ) -> None:
        """Edit a new session, then commit it (with a timer when `confirm_minutes` is given)."""
        session = f"genosd-{self.change[:10]}-{next(self._numbers)}"
        try:
            conn.send_config_set(
                lines,
                config_mode_command=f"configure session {session}",
                error_pattern=self.platform.config_error,
                read_timeout=timeout,
                exit_config_mode=False,
            )
        except Exception:
            with contextlib.suppress(Exception):
                self._exec(conn, "abort", timeout)  # leaves the session: nothing changed
            raise
        if confirm_minutes is None:
            self._exec(conn, "commit", timeout)
            return
        self._exec(
            conn, f"commit timer {confirm_minutes // 60:02d}:{confirm_minutes % 60:02d}:00", timeout
        )
        self.pending = session

    def confirm(self, conn: Any, timeout: float, save: bool) -> None:
        """Confirm the timed commit, then save."""
        if self.pending is not None:
            self._exec(conn, f"configure session {self.pending} commit", timeout)
            self.pending = None
        super().confirm(conn, timeout, save)

    def discard(self, conn: Any, timeout: float) -> None:
        """Abort the timed commit: the device puts back the config it replaced."""
        if self.pending is not None:
            # a session the device no longer has already ran out its timer: it reverted by itself
            self._exec(conn, f"configure session {self.pending} abort", timeout, missing_ok=True)
            self.pending = None

    def _exec(self, conn: Any, command: str, timeout: float, missing_ok: bool = False) -> None:
        # commit and abort leave the session's prompt: wait for any prompt of the device
        prompt = rf"{re.escape(conn.base_prompt)}[^\n]*#"
        output = conn.send_command(command, expect_string=prompt, read_timeout=timeout)
        missing = "not found" in output
        if self.platform.refused(output) or (missing and not missing_ok):
            raise DeviceError(f"{command!r} failed: {output.strip()[:200]!r}")


MODELS: dict[str, type[CommitModel]] = {
    "none": CommitModel,
    "confirmed": CommitConfirmed,
    "session": ConfigSession,
}


def commit_model(platform: Platform, change: str) -> CommitModel:
    """The commit model of `platform` for one deploy (`change` names what it leaves on the device)."""
    return MODELS[platform.commit](platform, change)
