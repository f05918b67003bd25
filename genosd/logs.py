"""Log output for an operator: timestamp and level on a terminal, journald priorities under systemd.

Libraries that narrate every SSH or SNMP session (nornir, paramiko, netmiko, scrapli, asyncssh,
pysnmp) are held at WARNING unless genosd itself logs at DEBUG, so one backup run of 2,000 devices
does not write 10,000 lines.
"""

from __future__ import annotations

import logging
import os
import sys

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
