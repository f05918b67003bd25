"""The sections of genosd.yaml: one pydantic model each, every field with a working default."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

AuthProtocol = Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"]
PrivProtocol = Literal["DES", "3DES", "AES", "AES128", "AES192", "AES256", "AES192C", "AES256C"]


def checked_networks(items: list[str]) -> list[str]:
    """`items` when each is an address or a CIDR prefix; ValueError naming the first that is not."""
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"not an address or network: {item!r}") from None
    return items


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiSettings(_Section):
    """Where the HTTP API and web console listen."""

    host: str = "127.0.0.1"
    port: int = Field(8470, ge=0, le=65535)
    rate_limit_per_minute: float = Field(
        1200.0, gt=0, description="steady requests per minute allowed per API key"
    )
    rate_limit_burst: int = Field(200, ge=1, description="requests a key may send at once")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="browser origins (besides the API's own) allowed to open the event stream",
    )
    ws_heartbeat: float = Field(30.0, ge=1.0, le=3600, description="event-stream heartbeat, s")
    ws_queue_size: int = Field(
        1000, ge=10, le=1_000_000, description="events queued per client before it is dropped"
    )
    ws_max_clients: int = Field(2000, ge=1, description="event-stream connections at once")
    ws_unauthenticated: int = Field(
        100,
        ge=1,
        description="event-stream connections at once that have not authenticated yet; the "
        "other slots are kept for clients that have",
    )
    ws_unauthenticated_per_address: int = Field(
        10, ge=1, description="of those, from one client address"
    )
    ws_auth_timeout: float = Field(
        5.0, gt=0, le=60, description="seconds a new event stream has to authenticate"
    )
    client_rate_limit_per_minute: float = Field(
        6000.0, gt=0, description="requests per minute per client address, before any key check"
    )
    client_rate_limit_burst: int = Field(1000, ge=1)
    unauthenticated_per_minute: float = Field(
        60.0,
        gt=0,
        description="requests per minute a client address may send without a valid key before "
        "it is refused (429) without even a key lookup",
    )
    unauthenticated_burst: int = Field(30, ge=1)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks of reverse proxies whose X-Forwarded-For is believed",
    )
    mcp: bool = Field(True, description="serve the tools over MCP (Streamable HTTP) at /api/v1/mcp")
    mcp_writes: bool = Field(
        False,
        description="offer MCP clients with an operator key the tools that draft changes (change "
        "requests a person approves); read-only tools only when false",
    )
    tls_cert: Path | None = Field(None, description="PEM certificate (chain): serve HTTPS")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return checked_networks(value)

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self


class PollerSettings(_Section):
    """Defaults for SNMP polling; each can be overridden per host or group in the inventory."""

    interval: float = Field(60.0, ge=1.0, description="seconds between polls of one device")
    timeout: float = Field(2.0, gt=0, le=60)
    retries: int = Field(1, ge=0, le=10)
    max_repetitions: int = Field(25, ge=1, le=200)
    concurrency: int = Field(100, ge=1, le=5000, description="SNMP requests in flight at once")
    backoff_max: float = Field(
        600.0, ge=1.0, description="longest wait between polls of a down device"
    )
    profiles: list[str] = Field(
        default_factory=list,
        description="MIB profiles to poll (docs/snmp.md#mib-profiles); empty: every one whose "
        "sysObjectID prefixes match the device",
    )
    profile_paths: list[Path] = Field(
        default_factory=list,
        description="profile files or directories of *.yaml, beside the built-in profiles",
    )


class TrapSettings(_Section):
    """The SNMP trap and inform receiver (docs/snmp.md#traps-and-informs)."""

    enabled: bool = True
    host: str = Field("0.0.0.0", description="address to listen on (devices send from afar)")
    port: int = Field(162, ge=0, le=65535, description="UDP port; 0 picks a free one")
    credentials: list[str] = Field(
        default_factory=list,
        description="names of the credentials (communities, v3 users) accepted; empty: every one",
    )
    rate_per_source: float = Field(
        200.0, gt=0, description="notifications per second taken from one address (burst x5)"
    )
    queue_size: int = Field(
        10_000, ge=10, le=1_000_000, description="received, not yet handled; beyond: dropped"
    )
    retention_days: float = Field(30.0, gt=0, description="how long received traps are kept")
    max_kept: int = Field(1_000_000, ge=100, description="traps kept at most (oldest go first)")


class InfluxSettings(_Section):
    """An InfluxDB (or compatible) server to forward metrics to; off while `url` is empty."""

    url: str | None = None
    api: Literal["v2", "v1"] = "v2"
    token: SecretStr | None = None
    org: str = "genosd"
    bucket: str = "genosd"
    database: str = "telegraf"
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    batch_size: int = Field(5000, ge=1, le=100_000)
    flush_interval: float = Field(1.0, gt=0, le=300)
    timeout: float = Field(10.0, gt=0, le=300)
    retry_max_delay: float = Field(30.0, ge=0.1, le=3600)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


class StoreSettings(_Section):
    """The local metrics store, which is also the spool while InfluxDB is unreachable."""

    max_bytes: int = Field(512 * 1024 * 1024, ge=1024 * 1024, description="spool bound on disk")
    retention_hours: float = Field(
        24.0, gt=0, description="how long forwarded points stay queryable"
    )


class SnmpCredential(_Section):
    """An SNMP credential referenced from the inventory by name: v1/v2c community or a v3 user."""

    community: SecretStr | None = None
    username: str | None = None
    auth_protocol: AuthProtocol | None = None
    auth_key: SecretStr | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> SnmpCredential:
        if self.community is None and self.username is None:
            raise ValueError("a credential needs a community (v1/v2c) or a username (v3)")
        if (self.auth_protocol is None) != (self.auth_key is None):
            raise ValueError("auth_protocol and auth_key go together")
        if (self.priv_protocol is None) != (self.priv_key is None):
            raise ValueError("priv_protocol and priv_key go together")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise ValueError("privacy (priv_*) needs authentication (auth_*)")
        for key in (self.auth_key, self.priv_key):
            if key is not None and len(key.get_secret_value()) < 8:
                raise ValueError("SNMPv3 keys must be at least 8 characters (RFC 3414)")
        return self


class SshCredential(_Section):
    """An SSH login referenced from the inventory (`data.ssh.credential`) by name."""

    username: str
    password: SecretStr
    enable_secret: SecretStr | None = None


class SshSettings(_Section):
    """SSH collection and config backups."""

    host_key_policy: Literal["accept-new", "strict"] = Field(
        "accept-new", description="record an unknown host key on first contact, or refuse it"
    )
    concurrency: int = Field(20, ge=1, le=500, description="SSH sessions at once per run")
    timeout: float = Field(30.0, gt=0, le=600, description="connect and command timeout, s")
    mask_secrets: bool = Field(True, description="mask passwords, keys, communities in backups")
    backup_schedule: str = Field(
        "0 2 * * *", description="cron expression (local time) for backups; empty disables them"
    )
    facts_interval: float = Field(
        900.0, ge=0, description="seconds between SSH fact collections in the daemon; 0 disables"
    )
    command_history_days: float = Field(
        30.0,
        ge=0,
        le=3650,
        description="days every command sent to a device is kept (who, why, masked output); "
        "0 keeps none",
    )

    @field_validator("backup_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value and not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value


class PostCheck(_Section):
    """A show command run after a deploy; a mismatch rolls the change back."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    command: str = Field(min_length=1)
    platforms: list[str] = Field(default_factory=list, description="empty: every platform")
    must_match: str | None = Field(None, description="regex the output must contain (multiline)")
    must_not_match: str | None = Field(None, description="regex the output must not contain")

    @model_validator(mode="after")
    def _regexes(self) -> PostCheck:
        if self.must_match is None and self.must_not_match is None:
            raise ValueError("give must_match or must_not_match")
        for pattern in (self.must_match, self.must_not_match):
            if pattern is not None:
                try:
                    re.compile(pattern, re.MULTILINE)
                except re.error as exc:
                    raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return self


class ConfigsSettings(_Section):
    """Rendering, validating and deploying intended configs."""

    templates_dir: Path = Field(Path("templates"), description="templates/<platform>/<feature>.j2")
    rules: list[Path] | None = Field(
        None,
        description="compliance rule files or directories of *.yaml (default: <templates_dir>/rules)",
    )
    baselines: list[Path] | None = Field(
        None,
        description="hardening baselines (CIS/STIG topics) for `config validate --file` and the "
        "validate API (default: <templates_dir>/rules/baselines)",
    )
    check_baselines: bool = Field(
        True,
        description="check running configs (at every backup) against the platform's hardening "
        "baseline too, not only the compliance rules",
    )
    approval_ttl: float = Field(
        3600.0, gt=0, le=30 * 86400, description="seconds a planned change stays approvable"
    )
    require_llm_review: bool = Field(
        False, description="refuse to approve a change whose LLM review did not run"
    )
    save_after_deploy: bool = Field(True, description="write memory once a deploy verified")
    commit_confirm_minutes: int = Field(
        5,
        ge=1,
        le=60,
        description="Junos (commit confirmed) and EOS (a session's commit "
        "timer) revert a push by themselves after this long unless genosd, having verified the "
        "change, confirms it",
    )
    four_eyes: bool = Field(
        False, description="an API approval must come from someone other than the planner"
    )
    post_checks: list[PostCheck] = Field(default_factory=list)


def _http_url(value: str | None) -> str | None:
    if value is not None and not re.match(r"^https?://[^\s/]+(/.*)?$", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


LlmKind = Literal["chat", "generate", "review", "summary", "classify", "embed"]
# what each task kind asks for when `llm.models` does not say (review: `llm.review_model`)
DEFAULT_MODELS: dict[str, str] = {
    "chat": "qwen2.5:7b",
    "generate": "qwen2.5-coder:7b",
    "summary": "qwen2.5:7b",
    "classify": "qwen2.5:7b",
    "embed": "nomic-embed-text",
}


class LlmProvider(_Section):
    """A model server: Ollama, or anything speaking the OpenAI API (vLLM, llama.cpp, LM Studio)."""

    type: Literal["ollama", "openai"] = "ollama"
    url: str = Field(description="Ollama: http://host:11434; OpenAI-compatible: http://host/v1")
    api_key: SecretStr | None = Field(None, description="a bearer token (secrets directory)")
    timeout: float | None = Field(None, gt=0, le=3600, description="default: llm.timeout")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        return _http_url(value) or value


class LlmModel(_Section):
    """A model on a named server."""

    provider: str
    model: str = Field(min_length=1)


class LlmSettings(_Section):
    """The model servers the AI features use, and which model each task kind asks (in order).

    No server means no LLM: every feature that needs one says so and the rest works.
    """

    url: str | None = Field(
        None, description="shorthand: an Ollama server named `ollama`, e.g. http://127.0.0.1:11434"
    )
    providers: dict[str, LlmProvider] = Field(default_factory=dict)
    models: dict[LlmKind, list[str | LlmModel]] = Field(
        default_factory=dict,
        description="per task kind, models tried in order: a name (on the first server that has "
        "it) or {provider, model}",
    )
    timeout: float = Field(120.0, gt=0, le=3600, description="seconds per LLM request")
    review_model: str = Field(
        "qwen2.5-coder:7b", description="config reviews, when models.review is not set"
    )
    max_input_chars: int = Field(
        24000, ge=1000, le=2_000_000, description="longer input is trimmed (and says so)"
    )
    max_output_tokens: int = Field(2048, ge=16, le=65536)
    cache_entries: int = Field(
        256, ge=0, le=100_000, description="identical deterministic calls answered from memory"
    )
    redact_patterns: list[str] = Field(
        default_factory=list,
        description="regular expressions masked in anything sent to a model, besides the "
        "config secret forms and genosd's own secrets",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("redact_patterns")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return values

    @model_validator(mode="after")
    def _known_providers(self) -> LlmSettings:
        names = set(self.all_providers())
        for kind, entries in self.models.items():
            for entry in entries:
                if isinstance(entry, LlmModel) and entry.provider not in names:
                    raise ValueError(f"models.{kind}: no provider {entry.provider!r}")
        return self

    def all_providers(self) -> dict[str, LlmProvider]:
        """The servers by name (`url` is a server named `ollama`)."""
        found = dict(self.providers)
        if self.url is not None and "ollama" not in found:
            found = {"ollama": LlmProvider(url=self.url), **found}
        return found

    def route(self, kind: str) -> list[tuple[str | None, str]]:
        """(server or None for "the first that has it", model) for `kind`, in order."""
        entries = self.models.get(kind)  # type: ignore[call-overload]
        if entries is None:
            entries = [self.review_model if kind == "review" else DEFAULT_MODELS[kind]]
        return [(e.provider, e.model) if isinstance(e, LlmModel) else (None, e) for e in entries]
