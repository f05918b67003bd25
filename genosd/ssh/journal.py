"""Every command genosd sends to a device, noted as it is sent: who asked and why.

The application layer opens a `recording(journal, actor, reason, ref)` around device work; the
CLI sessions (genosd.ssh.cli) and the deploy path note each command in the journal the context
names, with its output, outcome and duration. Nornir's worker threads see the context of the call
that started the run (genosd.ssh.nornir). Commands sent outside any recording are not kept. The
journal only buffers: the application drains it into the state database, masking secrets there.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

OUTPUT_LIMIT = 65536  # characters of output kept per command
_BUFFER_LIMIT = 20_000  # commands held between drains (the daemon drains every second)


@dataclass(frozen=True)
class Sent:
    """One command sent to one device."""

    at: float
    device: str
    kind: str  # show | config
    command: str
    output: str
    ok: bool
    error: str | None
    duration: float
    actor: str
    reason: str  # backup, facts, playbook, chat tool, troubleshooting, deploy …
    ref: str | None  # what it belongs to: "run 12", "change 5"
    truncated: bool = False


class Journal:
    """A thread-safe buffer of sent commands."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: deque[Sent] = deque(maxlen=_BUFFER_LIMIT)  # past it, the oldest go

    def add(self, sent: Sent) -> None:
        """Keep `sent` until the next drain."""
        with self._lock:
            self._sent.append(sent)

    def drain(self) -> list[Sent]:
        """Everything kept so far, oldest first; the buffer is empty after."""
        with self._lock:
            sent = list(self._sent)
            self._sent.clear()
        return sent


@dataclass(frozen=True)
class _Recording:
    journal: Journal
    actor: str
    reason: str
    ref: str | None


_current: ContextVar[_Recording | None] = ContextVar("genosd_recording", default=None)


@contextlib.contextmanager
def recording(journal: Journal, actor: str, reason: str, ref: str | None = None) -> Iterator[None]:
    """Note the commands sent inside the block (and the threads it starts runs in) as `actor`'s,
    for `reason`; inside another recording the outer one holds (a playbook's backup step is
    noted as the playbook's)."""
    if _current.get() is not None:
        yield
        return
    token = _current.set(_Recording(journal, actor, reason, ref))
    try:
        yield
    finally:
        _current.reset(token)


def note(
    device: str,
    kind: str,
    command: str,
    output: str,
    started: float,
    error: BaseException | str | None = None,
) -> None:
    """Note a command sent to `device` (when a recording is open)."""
    current = _current.get()
    if current is None:
        return
    text = error if isinstance(error, str) or error is None else f"{type(error).__name__}: {error}"
    current.journal.add(
        Sent(
            at=time.time(),
            device=device,
            kind=kind,
            command=command,
            output=output[:OUTPUT_LIMIT],
            ok=error is None,
            error=None if text is None else text[:500],
            duration=round(time.monotonic() - started, 3),
            actor=current.actor,
            reason=current.reason,
            ref=current.ref,
            truncated=len(output) > OUTPUT_LIMIT,
        )
    )


@contextlib.contextmanager
def noting(device: str, kind: str, command: str) -> Iterator[list[str]]:
    """Note `command` when the block ends: the output the block appends to the list it is given,
    or the exception it raised (re-raised)."""
    started = time.monotonic()
    output: list[str] = []
    try:
        yield output
    except BaseException as exc:
        note(device, kind, command, "".join(output), started, exc)
        raise
    note(device, kind, command, "".join(output), started)
