"""The `cluster` section of genosd.yaml: one node on its own, or several sharing work through Redis."""

from __future__ import annotations

import re
import socket
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from genosd.settings_sections import _Section

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$")


class ClusterSettings(_Section):
    """How this node shares devices and jobs with others (docs/scale.md)."""

    backend: Literal["local", "redis"] = Field(
        "local", description="local: this node does everything; redis: nodes share the work"
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="redis:// or rediss:// (TLS) or unix:// URL of Redis or Valkey, without a "
        "password (that is cluster.redis_password, a secret)",
    )
    redis_password: SecretStr | None = None
    node: str = Field(
        default_factory=socket.gethostname,
        description="this node's name, unique in the cluster (genosd@NAME.service sets it)",
    )
    poller_groups: list[str] = Field(
        default_factory=lambda: ["default"],
        description="the inventory's poller groups (data.poller_group) this node polls",
    )
    heartbeat: float = Field(2.0, gt=0.05, le=60, description="seconds between heartbeats")
    node_ttl: float = Field(
        10.0,
        gt=0.2,
        le=600,
        description="a node that has not renewed its heartbeat for this long is gone: its "
        "devices move, and it stops polling by itself",
    )
    prefix: str = Field("genosd", description="key prefix, so clusters can share one Redis")
    work_concurrency: int = Field(
        50, ge=1, le=10_000, description="work items (backups, facts, hosts) run at once"
    )
    work_lease: float = Field(
        30.0,
        ge=0.5,
        le=3600,
        description="an item its node has not touched for this long is taken over by another",
    )
    work_attempts: int = Field(
        3, ge=1, le=20, description="times an item is started before giving up (nodes dying)"
    )

    @field_validator("node", "prefix")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("letters, digits and _ . @ - only (at most 63)")
        return value

    @field_validator("poller_groups")
    @classmethod
    def _groups(cls, groups: list[str]) -> list[str]:
        if not groups:
            raise ValueError("name at least one poller group")
        for group in groups:
            if not _NAME.match(group):
                raise ValueError(f"{group!r}: letters, digits and _ . @ - only")
        return groups

    @field_validator("redis_url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        if parts.password:
            raise ValueError(
                "no password in the URL: put it in a file named cluster__redis_password in the "
                "secrets directory, or in GENOSD_CLUSTER__REDIS_PASSWORD"
            )
        return url

    @model_validator(mode="after")
    def _ttl_covers_heartbeats(self) -> ClusterSettings:
        if self.node_ttl < 2 * self.heartbeat:
            raise ValueError(
                "node_ttl must be at least twice heartbeat (one lost beat is not death)"
            )
        return self
