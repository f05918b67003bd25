"""Log output for an operator: timestamp and level on a terminal, journald priorities under systemd.

Libraries that narrate every SSH or SNMP session (nornir, paramiko, netmiko, scrapli, asyncssh,
pysnmp) are held at WARNING unless genosd itself logs at DEBUG, so one backup run of 2,000 devices
does not write 10,000 lines.

Every handler, genosd's and any a library adds, carries one redacting filter (REDACTION): the
configured secret values, `password=…`-style pairs, bearer tokens, URL passwords and (once the
application adds it) every secret form of a device config are taken out of the message and any
traceback before a handler writes them. Nornir's "running task with args" line never carries
the arguments (an intended config, a command list).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable

CHATTY = ("nornir", "paramiko", "netmiko", "scrapli", "asyncssh", "pysnmp", "napalm", "urllib3")
# syslog priorities for sd-daemon(3) line prefixes, which journald reads as the message priority
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """`<priority>logger: message`: journald adds the time and keeps the level."""

    def format(self, record: logging.LogRecord) -> str:
        """One line per record (a traceback follows on the next lines)."""
        priority = _PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{super().format(record)}"


REDACTED = "<redacted>"
_MIN_SECRET = 3  # shorter values (a one-letter community) would blank out ordinary words
_PAIRS = re.compile(
    r"(?i)((?:password|passwd|passphrase|secret|token|api[_-]?key|community|psk|authorization)"
    r"""["']?\s*[:=]\s*["']?)([^\s"',;}&]+)"""
)
_SCHEMES = re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}")
_URL_PASSWORDS = re.compile(r"(://[^/\s:@]+:)[^/\s@]+(@)")


class RedactingFilter(logging.Filter):
    """Takes secrets out of a record's message and traceback; never drops a record."""

    def __init__(self) -> None:
        super().__init__("redaction")
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._values: re.Pattern[str] | None = None
        self._extra: list[Callable[[str], str]] = []

    def remember(self, values: Iterable[str]) -> None:
        """Secret values to take out wherever they appear (kept across reloads)."""
        with self._lock:
            self._known |= {v for v in values if len(v) >= _MIN_SECRET}
            kept = sorted(self._known, key=len, reverse=True)
            self._values = re.compile("|".join(re.escape(v) for v in kept)) if kept else None

    def also(self, redact: Callable[[str], str]) -> None:
        """Add a redaction (added once however often it is called)."""
        with self._lock:
            if redact not in self._extra:
                self._extra.append(redact)

    def redact(self, text: str) -> str:
        """`text` without any secret this filter knows of."""
        values, extra = self._values, list(self._extra)
        if values is not None:
            text = values.sub(REDACTED, text)
        text = _SCHEMES.sub(rf"\1{REDACTED}", text)
        text = _PAIRS.sub(rf"\1{REDACTED}", text)
        text = _URL_PASSWORDS.sub(rf"\1{REDACTED}\2", text)
        for redact in extra:
            text = redact(text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place (the next handler sees it clean) and let it through."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, lose the arguments
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTION = RedactingFilter()


class _WithoutTaskArguments(logging.Filter):
    """Nornir logs every task's keyword arguments at INFO: keep the task name and host count."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Running task %r with args %s on %d hosts" and len(record.args or ()) == 3:
            assert isinstance(record.args, tuple)
            record.msg, record.args = (
                "Running task %r on %d hosts",
                (record.args[0], record.args[2]),
            )
        return True


def cover_all_handlers() -> None:
    """Put the redacting filter on every handler of every logger (libraries add their own)."""
    loggers = [logging.getLogger()] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if REDACTION not in handler.filters:
                handler.addFilter(REDACTION)
    nornir = logging.getLogger("nornir.core")
    if not any(isinstance(f, _WithoutTaskArguments) for f in nornir.filters):
        nornir.addFilter(_WithoutTaskArguments())


def under_journald() -> bool:
    """Whether stderr is connected to the journal (systemd sets JOURNAL_STREAM to its dev:inode)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    if not stream:
        return False
    try:
        stat = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{stat.st_dev}:{stat.st_ino}"


def setup(level: str = "INFO") -> None:
    """Send logs to stderr in the right format for where they end up."""
    handler = logging.StreamHandler(sys.stderr)
    if under_journald():
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)


def set_level(level: str) -> None:
    """genosd's level; chatty libraries stay at WARNING unless it is DEBUG."""
    logging.getLogger().setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    cover_all_handlers()
