"""The sections of genosd.yaml for events coming in and alerts going out: syslog, alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from genosd.settings_sections import _Section

AlertSeverity = Literal["critical", "major", "minor", "warning", "info"]
NotifyEvent = Literal["opened", "escalated", "acknowledged", "resolved"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("opened", "escalated", "acknowledged", "resolved")


class SyslogSettings(_Section):
    """The syslog receiver (docs/syslog.md)."""

    enabled: bool = True
    host: str = Field("0.0.0.0", description="address to listen on (devices send from afar)")
    udp_port: int | None = Field(514, ge=0, le=65535, description="UDP port; null: no UDP")
    tcp_port: int | None = Field(514, ge=0, le=65535, description="TCP port; null: no TCP")
    tls_port: int | None = Field(
        None, ge=0, le=65535, description="TLS port (RFC 5425 uses 6514); needs tls_cert/tls_key"
    )
    tls_cert: Path | None = Field(None, description="PEM certificate (chain) the TLS port shows")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    tls_client_ca: Path | None = Field(
        None, description="PEM CA bundle: when set, TLS senders must show a certificate it signed"
    )
    rate_per_source: float = Field(
        2000.0, gt=0, description="messages per second taken from one address (burst x5)"
    )
    queue_size: int = Field(
        50_000, ge=10, le=5_000_000, description="received, not yet handled; beyond: dropped"
    )
    max_message: int = Field(
        8192, ge=480, le=1 << 20, description="bytes kept of one message (longer ones are cut)"
    )
    max_connections: int = Field(1000, ge=1, description="TCP/TLS senders connected at once")
    idle_timeout: float = Field(
        3600.0, gt=0, description="seconds a silent TCP/TLS sender stays connected"
    )
    retention_days: float = Field(14.0, gt=0, description="how long messages are kept")
    max_kept: int = Field(5_000_000, ge=100, description="messages kept at most (oldest go first)")
    to_metrics: bool | None = Field(
        None,
        description="also write each message as Telegraf's `syslog` measurement to the metrics "
        "sink; null: only when an InfluxDB is configured (influx.url), since the state database "
        "keeps every message anyway",
    )
    events_file: Path | None = Field(
        None,
        description="a YAML catalogue of structured events tried before the built-in one "
        "(genosd/syslog/events.yaml shows the format)",
    )
    forward: list[str] = Field(
        default_factory=list,
        description="log stores that get every message as stored (masked, attributed): "
        "udp://host:514 or tcp://host:514 (RFC 5424, octet counting), or a Grafana Loki push "
        "URL http(s)://loki:3100/loki/api/v1/push",
    )

    @field_validator("forward")
    @classmethod
    def _destinations(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("udp://", "tcp://", "http://", "https://")) or url.endswith(
                "//"
            ):
                raise ValueError(f"{url!r}: a forward destination is udp://, tcp:// or http(s)://")
        return urls

    @model_validator(mode="after")
    def _tls_needs_a_certificate(self) -> SyslogSettings:
        if self.tls_port is not None and (self.tls_cert is None or self.tls_key is None):
            raise ValueError("syslog.tls_port needs syslog.tls_cert and syslog.tls_key")
        return self


class WebhookSettings(_Section):
    """A generic webhook that receives incident notifications as signed JSON."""

    url: str
    secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key: each request carries X-Genosd-Signature: "
        "sha256=hex(hmac(secret, timestamp + '.' + body)) and X-Genosd-Timestamp",
    )
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(NOTIFY_EVENTS),
        description="which incident changes are sent",
    )
    min_severity: AlertSeverity = Field("warning", description="quieter incidents are not sent")
    timeout: float = Field(10.0, gt=0, le=120)
    max_attempts: int = Field(8, ge=1, le=100, description="then the notification is given up")
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a webhook url starts with http:// or https://")
        return url


class AlertSettings(_Section):
    """Alert rules, incidents and notifications (docs/alerts.md)."""

    enabled: bool = True
    builtin_rules: bool = Field(True, description="start from genosd/alerts/rules.yaml")
    rules_files: list[Path] = Field(
        default_factory=list, description="rule files or directories; a name replaces a built-in"
    )
    interval: float = Field(10.0, ge=1, le=600, description="s between state evaluations")
    group_by: list[str] = Field(
        default_factory=lambda: ["device"],
        description="alert labels that put alerts in one incident",
    )
    retention_days: float = Field(90.0, gt=0, description="resolved incidents kept this long")
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
