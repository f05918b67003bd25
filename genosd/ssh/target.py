"""Where and how to open a CLI session on one device."""

from __future__ import annotations

from dataclasses import dataclass

from genosd.platforms import Platform


@dataclass(frozen=True)
class SshTarget:
    """Everything needed to open a CLI session on one device."""

    name: str
    address: str
    port: int
    platform: Platform
    username: str
    password: str
    enable_secret: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        return f"SshTarget({self.name!r}, {self.address}:{self.port}, {self.platform.name!r})"
