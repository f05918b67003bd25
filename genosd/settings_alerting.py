"""The sections of genosd.yaml for events coming in and alerts going out: syslog."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from genosd.settings_sections import _Section


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

    @model_validator(mode="after")
    def _tls_needs_a_certificate(self) -> SyslogSettings:
        if self.tls_port is not None and (self.tls_cert is None or self.tls_key is None):
            raise ValueError("syslog.tls_port needs syslog.tls_cert and syslog.tls_key")
        return self
