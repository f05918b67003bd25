"""Syslog messages as network devices send them: RFC 5424, RFC 3164 and the vendors' variants.

`parse(data, received_at)` never raises on what a device sends: a message whose header does not
follow either RFC keeps its text whole (facility/severity from the PRI when there is one, else
user.notice as RFC 3164 §4.3.3 says) so nothing a device said is lost. Handled variants: Cisco
IOS's sequence numbers, `*`/`.` clock flags, uptime stamps, milliseconds, years and time zones;
NX-OS's year-first stamps; ISO 8601 stamps in BSD headers (rsyslog, EOS); Junos's
`TAG[pid]: EVENT_NAME:` and structured data. BSD stamps carry no year or zone: the year is the
latest that does not put the stamp after the receive time, the zone UTC unless the message names one.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

FACILITIES = tuple(
    [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ]
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
NIL = "-"
SKEW = 86400.0  # seconds a device clock may run ahead of ours
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_ZONES = {"UTC": 0, "GMT": 0, "Z": 0}

_PRI = re.compile(rb"<(\d{1,3})>")
_V5424 = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_ISO = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?):? +")
_BSD = r"([A-Z][a-z]{2}) +(\d{1,2})(?: (\d{4}))? (\d\d):(\d\d):(\d\d)(?:\.\d+)?(?: ([A-Z]{3,4}))?"
_BSD_HEAD = re.compile(_BSD + r":? +")
# Cisco IOS: `seq: [origin: ][*|.]stamp: ` with stamp a date, an uptime (1d02h) or hh:mm:ss
_CISCO = re.compile(
    r"(?:\d+: +)?(?:([\w.-]+): +)?[*.]?(?:"
    + _BSD
    + r"|\d+[ywdh]\d*[wdhm]|\d\d:\d\d:\d\d(?:\.\d+)?)"
    r": +"
)
# NX-OS: `: 2026 Nov 29 12:00:00 UTC: ` (the leading colon is how NX-OS sends it)
_NXOS = re.compile(
    r": ?(\d{4}) ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d+)?(?: ([A-Z]{3,4}))?: +"
)
_SEQUENCE = re.compile(r"\d+: +(?=%)")
_SEQUENCE_ANY = re.compile(r"^\d+: +")
_TAG = re.compile(r"([^\s:\[\]]{1,64})(?:\[([^\]\s]{1,32})\])?: *")
_MNEMONIC = re.compile(r"%([A-Z][A-Z0-9_]*-(?:[A-Z0-9_]+-)?\d-[A-Z0-9_]+): *")
_EVENT_NAME = re.compile(r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+): +")
# param values as an unrolled loop (runs of plain characters between escapes): Python's regex
# engine is several times slower with a per-character alternation
_VALUE = r'[^"\\\]]*(?:\\.[^"\\\]]*)*'
_SD_ELEMENT = re.compile(r'\[([^\s=\]"]+)((?: [^\s=\]"]+="' + _VALUE + r'")*) ?\]')
_SD_PARAM = re.compile(r' ([^\s=\]"]+)="(' + _VALUE + r')"')
_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")


@dataclass(slots=True)
class Message:
    """One syslog message, its header fields split out (None where the sender gave none)."""

    facility: int
    severity: int
    text: str
    format: str  # "rfc5424", "rfc3164" or "raw"
    timestamp: float | None = None
    hostname: str | None = None
    app: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def facility_name(self) -> str:
        """Telegraf's facility keyword (kern … local7)."""
        return FACILITIES[self.facility] if self.facility < len(FACILITIES) else str(self.facility)

    @property
    def severity_name(self) -> str:
        """Telegraf's severity keyword (emerg … debug)."""
        return SEVERITIES[self.severity]


def parse(data: bytes, received_at: float | None = None) -> Message:
    """The message in `data` (one datagram or one frame), whatever its format."""
    now = time.time() if received_at is None else received_at
    pri = _PRI.match(data)
    if pri is None or int(pri.group(1)) > 191:
        return Message(1, 5, _text(data).strip(), "raw")
    value = int(pri.group(1))
    facility, severity = value >> 3, value & 7
    rest = _text(data[pri.end() :]).rstrip("\r\n\x00")
    head = _V5424.match(rest)
    if head is not None:
        return _rfc5424(facility, severity, rest, head)
    return _rfc3164(facility, severity, rest, now)


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _rfc5424(facility: int, severity: int, rest: str, head: re.Match[str]) -> Message:
    stamp, hostname, app, procid, msgid = head.groups()
    body = rest[head.end() :]
    structured: dict[str, dict[str, str]] = {}
    if body.startswith(NIL):
        body = body[1:]
    else:
        while body.startswith("["):
            element = _SD_ELEMENT.match(body)
            if element is None:
                break  # not structured data after all: keep it as text
            params = {
                name: _SD_UNESCAPE.sub(r"\1", value)
                for name, value in _SD_PARAM.findall(element.group(2))
            }
            structured[element.group(1)] = params
            body = body[element.end() :]
    text = body[1:] if body.startswith(" ") else body
    if text.startswith("\ufeff"):
        text = text[1:]
    return Message(
        facility,
        severity,
        text,
        "rfc5424",
        timestamp=_iso(stamp) if stamp != NIL else None,
        hostname=None if hostname == NIL else hostname,
        app=None if app == NIL else app,
        procid=None if procid == NIL else procid,
        msgid=None if msgid == NIL else msgid,
        structured=structured,
    )


def _rfc3164(facility: int, severity: int, rest: str, now: float) -> Message:
    message = Message(facility, severity, rest, "rfc3164")
    hostname: str | None = None
    match: re.Match[str] | None = None
    first = rest[:1]
    # the header's first character says which forms can follow (tried cheapest first)
    if first.isdigit():
        if match := _ISO.match(rest):
            message.timestamp = _iso(match.group(1))
        elif match := _CISCO.match(rest):
            hostname = match.group(1)
            if match.group(2):
                message.timestamp = _bsd(match.groups()[1:], now)
        else:
            match = _SEQUENCE.match(rest)  # IOS without `service timestamps`: `58: %LINK-…`
    elif first == ":":
        if match := _NXOS.match(rest):
            year, *others = match.groups()
            message.timestamp = _bsd((others[0], others[1], year, *others[2:]), now)
    elif match := _BSD_HEAD.match(rest):
        message.timestamp = _bsd(match.groups(), now)
    elif match := _CISCO.match(rest):
        hostname = match.group(1)
        if match.group(2):
            message.timestamp = _bsd(match.groups()[1:], now)
    if match is not None:
        rest = rest[match.end() :]
        if hostname is None and rest[:1] != "%":
            # `HOST TAG: text`, or `TAG: text` when the sender left the host out
            word, _, after = rest.partition(" ")
            if word and after and not word.endswith(":") and "[" not in word:
                hostname, rest = word, after
    message.hostname = hostname
    if rest[:1] != "%":
        tag = _TAG.match(rest)
        if (
            tag is not None
            and tag.end() < len(rest)
            and (tag.group(2) is not None or not _EVENT_NAME.match(rest))
        ):
            message.app, message.procid = tag.group(1), tag.group(2)
            # EOS puts a sequence number before the Cisco-style message after the tag
            rest = _SEQUENCE_ANY.sub("", rest[tag.end() :], count=1)
    if mnemonic := _MNEMONIC.match(rest):
        message.msgid = mnemonic.group(1)
    elif event := _EVENT_NAME.match(rest):
        message.msgid = event.group(1)
    message.text = rest
    return message


def _iso(stamp: str) -> float | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return calendar.timegm(moment.timetuple()) + moment.microsecond / 1e6
    return moment.timestamp()


def _bsd(parts: tuple[str | None, ...], now: float) -> float | None:
    # a burst of messages shares its stamps: decide each once per hour of receive time (an
    # hour's difference only moves the one-day skew allowance at New Year by an hour)
    hour_start = now - now % 3600
    return _bsd_at(parts, hour_start)


@functools.lru_cache(maxsize=4096)
def _bsd_at(parts: tuple[str | None, ...], now: float) -> float | None:
    month_name, day, year, hour, minute, second, zone = parts
    month = _MONTHS.get(month_name or "")
    if month is None or (zone is not None and zone not in _ZONES):
        return None
    fields = (int(day or 0), int(hour or 0), int(minute or 0), int(second or 0))
    if year:
        return _timegm(int(year), month, *fields)
    now += 3600  # the end of the receive hour: a stamp from within it is not "ahead"
    # a stamp is from the past: this year's, unless that is ahead of now (a day's clock skew
    # allowed) — then last year's; or next year's when this year's is months ago and next
    # year's is within the skew (a device whose clock passed New Year first)
    this_year = time.gmtime(now).tm_year
    stamp = _timegm(this_year, month, *fields)
    if stamp > now + SKEW:
        return _timegm(this_year - 1, month, *fields)
    if now - stamp > 180 * 86400:
        following = _timegm(this_year + 1, month, *fields)
        if following <= now + SKEW:
            return following
    return stamp


@functools.lru_cache(maxsize=4096)  # a burst of messages shares its seconds
def _timegm(year: int, month: int, day: int, hour: int, minute: int, second: int) -> float:
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
