"""Silences and maintenance windows: label matchers that keep matching alerts from paging.

A silence holds from `starts_at` to `ends_at`. A maintenance window is a silence on devices
(matchers such as `device`, `group`, `site`) that may recur: with `cron` and `duration`, it holds
for `duration` seconds from each time the cron expression names, between `starts_at` and
`ends_at`. Alerts that match an active one still fire and are recorded, marked silenced: no
incident is opened or notified for them.
"""

from __future__ import annotations

import fnmatch
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from croniter import croniter
from pydantic import BaseModel, Field, field_validator, model_validator

SilenceKind = Literal["silence", "maintenance"]
LabelName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Glob = Annotated[str, Field(min_length=1, max_length=256)]


class SilenceSpec(BaseModel):
    """What a person asks to silence."""

    kind: SilenceKind = "silence"
    matchers: dict[LabelName, Glob] = Field(
        min_length=1,
        max_length=20,
        description="label → glob (alertname, device, group, site, severity, …)",
    )
    starts_at: float | None = Field(None, description="Unix s; default now")
    ends_at: float = Field(description="Unix s")
    cron: str | None = Field(None, description="recurring windows start at these times (UTC)")
    duration: float | None = Field(None, gt=0, le=7 * 86400, description="s each window lasts")
    comment: str = Field(min_length=1, max_length=2000)

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @model_validator(mode="after")
    def _window_sane(self) -> SilenceSpec:
        if (self.cron is None) != (self.duration is None):
            raise ValueError("cron and duration go together")
        # a request must end in the future; a stored silence (a subclass) may be long past
        start = self.starts_at if self.starts_at is not None else time.time()
        if type(self) is SilenceSpec and self.ends_at <= start:
            raise ValueError("ends_at must be after starts_at (or now)")
        return self


class Silence(SilenceSpec):
    """A stored silence or maintenance window."""

    id: int
    starts_at: float
    created_by: str
    created_at: float
    ended_by: str | None = None
    ended_at: float | None = None

    def active(self, at: float) -> bool:
        """Whether it holds at `at`."""
        if self.ended_at is not None and self.ended_at <= at:
            return False
        if not self.starts_at <= at < self.ends_at:
            return False
        if self.cron is None or self.duration is None:
            return True
        moment = datetime.fromtimestamp(at, UTC)
        # the window that began last (a start exactly now counts)
        began = croniter(self.cron, moment).get_prev(float)
        if croniter.match(self.cron, moment):
            began = at - at % 60
        return at < began + self.duration

    def covers(self, labels: dict[str, str]) -> bool:
        """Whether every matcher matches the alert's labels."""
        return all(
            fnmatch.fnmatchcase(labels.get(name, ""), glob) for name, glob in self.matchers.items()
        )


def silencing(silences: list[Silence], labels: dict[str, str], at: float) -> Silence | None:
    """The first active silence covering `labels`, if any."""
    for silence in silences:
        if silence.active(at) and silence.covers(labels):
            return silence
    return None
