"""Request and response bodies of the API; the OpenAPI spec is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genosd.audit import AuditEntry
from genosd.auth.keys import ApiKey, Role
from genosd.config.changes import Change
from genosd.config.compliance import ComplianceRecord
from genosd.config.findings import Finding


class Strict(BaseModel):
    """Unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(Strict):
    """Pagination shared by every list."""

    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)


class Page(BaseModel):
    """Paging facts of a list answer."""

    total: int
    limit: int
    offset: int


# ---------------------------------------------------------------- health and system


class SinkHealth(BaseModel):
    """The metrics sink as the forwarder sees it."""

    name: str
    healthy: bool
    last_error: str | None
    reason: str | None = Field(
        None,
        description="why the sink does not take writes: unreachable, timeout, unauthorized, "
        "forbidden, database_missing, rate_limited, server_error",
    )


class SpoolHealth(BaseModel):
    """Points waiting for the sink."""

    pending_points: int
    pending_bytes: int


class HealthOut(BaseModel):
    """Liveness and the state of each backend."""

    status: Literal["ok"]
    version: str
    devices: int
    metrics_sink: SinkHealth | None
    spool: SpoolHealth | None


class BackendHealth(BaseModel):
    """One backend the daemon uses."""

    name: str
    kind: str
    healthy: bool
    detail: str | None = None


class JobOut(BaseModel):
    """A scheduled job (the core's or a plugin's) and its newest outcome."""

    name: str
    owner: str
    schedule: str
    running: bool
    runs: int
    failures: int
    last_run: float | None
    last_duration: float | None
    last_error: str | None
    last_ok: float | None
    next_run: float | None


class SystemOut(BaseModel):
    """Version, uptime, backends, scheduled jobs, and settings that wait for a restart."""

    version: str
    python: str
    started_at: float
    uptime_seconds: float
    config_file: str | None
    inventory_dir: str
    state_dir: str
    settings_loaded_at: float
    restart_required: list[str]
    backends: list[BackendHealth]
    jobs: list[JobOut]


class SettingsOut(BaseModel):
    """The settings in effect, every secret replaced by '**********'."""

    settings: dict[str, Any]
    loaded_at: float
    restart_required: list[str] = Field(
        description="settings changed on disk that only a restart applies (their running value "
        "is shown)"
    )


class ReloadOut(BaseModel):
    """What a reload changed."""

    changed: list[str]
    restart_required: list[str]
    devices_added: list[str]
    devices_removed: list[str]
    devices_changed: list[str]
    plugins_reloaded: list[str]


# ---------------------------------------------------------------- devices


class DeviceQuery(PageQuery):
    """Device filters; all given must match."""

    name: str | None = Field(None, max_length=256)
    group: str | None = Field(None, max_length=256)
    tag: str | None = Field(None, max_length=256)
    platform: str | None = Field(None, max_length=256)
    site: str | None = Field(None, max_length=256)
    role: str | None = Field(None, max_length=256)
    status: Literal["up", "down", "unknown"] | None = None


class SnmpOut(BaseModel):
    """How a device is polled."""

    version: str
    port: int
    interval: float


class DeviceOut(BaseModel):
    """A device with its polling health."""

    name: str
    hostname: str
    platform: str | None
    groups: list[str]
    tags: list[str]
    site: str | None
    role: str | None
    snmp: SnmpOut | None
    status: Literal["up", "down", "unknown"]
    status_source: Literal["snmp", "ssh"] | None = Field(
        None, description="SNMP polls, or SSH sessions for a device without SNMP"
    )
    last_poll: float | None
    last_success: float | None
    last_error: str | None
    uptime_seconds: float | None = Field(None, description="from the newest answered poll")
    cpu_percent: float | None = Field(None, description="the busiest processor's load")
    error_rate: float | None = Field(None, description="interface errors/s, in and out")
    compliance: float | None = Field(None, description="the newest compliance score")


class DeviceList(Page):
    """A page of devices."""

    items: list[DeviceOut]


class MetricsQuery(Strict):
    """Restrict to one measurement."""

    measurement: str | None = Field(None, max_length=128)


class SeriesOut(BaseModel):
    """The newest value of one series."""

    measurement: str
    time_ns: int
    tags: dict[str, str]
    fields: dict[str, Any]


class DeviceMetrics(BaseModel):
    """Latest values of a device, from the local store."""

    device: str
    series: list[SeriesOut]


class PollOut(BaseModel):
    """The outcome of an on-demand poll."""

    device: str
    ok: bool
    error: str | None
    duration: float
    requests: int
    varbinds: int
    interfaces: int
    problems: list[str]


class GroupOut(BaseModel):
    """An inventory group and how many devices belong to it (directly or through a child group)."""

    name: str
    devices: int


class GroupList(Page):
    """A page of groups."""

    items: list[GroupOut]


class TagOut(BaseModel):
    """A tag and how many devices carry it."""

    name: str
    devices: int


class TagList(Page):
    """A page of tags."""

    items: list[TagOut]


# ---------------------------------------------------------------- keys and audit


class KeyCreate(Strict):
    """A new API key."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+$")
    role: Role
    expires_in_days: float | None = Field(None, gt=0, le=3650)


class KeyCreated(ApiKey):
    """A new key: `secret` is shown this once and never stored."""

    secret: str


class KeyQuery(PageQuery):
    """Which keys to list."""

    include_inactive: bool = False


class KeyList(Page):
    """A page of keys."""

    items: list[ApiKey]


class AuditQueryIn(PageQuery):
    """Audit log filters; times are Unix seconds."""

    actor: str | None = Field(None, max_length=256)
    action: str | None = Field(None, max_length=128)
    target: str | None = Field(None, max_length=512)
    result: Literal["ok", "failed", "denied"] | None = None
    since: float | None = None
    until: float | None = None


class AuditExportQuery(Strict):
    """Audit export filters and format."""

    format: Literal["json", "csv"] = "json"
    actor: str | None = Field(None, max_length=256)
    action: str | None = Field(None, max_length=128)
    since: float | None = None
    until: float | None = None


class AuditList(Page):
    """A page of audit entries, newest first."""

    items: list[AuditEntry]


class PluginQuery(PageQuery):
    """Filters for the plugin list."""

    name: str | None = None
    state: Literal["active", "degraded", "failed", "disabled", "missing"] | None = None


class SinkOut(BaseModel):
    """A plugin's sink."""

    name: str
    topics: list[str]
    points: bool
    delivered: int
    errors: int
    dropped: int
    stopped: bool
    last_error: str | None


class ToolOut(BaseModel):
    """A plugin's tool (for chat and ChatOps) and its argument schema."""

    name: str
    description: str
    role: str
    args_schema: dict[str, Any]


class PluginOut(BaseModel):
    """One plugin: where it comes from, its state and what it contributes."""

    name: str
    version: str | None
    source: str
    state: str
    required: bool
    error: str | None
    hooks: list[str]
    routes: list[str]
    topics: list[str]
    tools: list[ToolOut]
    tasks: list[str]
    jobs: list[JobOut]
    sinks: list[SinkOut]


class PluginList(Page):
    """A page of plugins."""

    items: list[PluginOut]


class BackupRequest(Strict):
    """Which devices to back up now (all SSH devices when no filter is given)."""

    name: str | None = None
    group: str | None = None
    tag: str | None = None
    platform: str | None = None
    site: str | None = None
    role: str | None = None


class BackupResultOut(BaseModel):
    """What happened to one device in a backup run."""

    device: str
    ok: bool
    changed: bool
    version: str | None
    masked: int
    lines: int
    host_key: str | None
    error: str | None
    duration: float


class BackupRunOut(BaseModel):
    """A finished backup run."""

    devices: int
    changed: int
    failed: int
    results: list[BackupResultOut]


class ConfigVersionOut(BaseModel):
    """One stored version of a device's config."""

    id: str
    time: float
    author: str
    message: str


class ConfigVersionList(Page):
    """A device's stored versions, newest first."""

    items: list[ConfigVersionOut]


class ConfigTextOut(BaseModel):
    """A stored config (secrets masked)."""

    device: str
    version: str
    text: str


class DiffQuery(Strict):
    """The newer side of a diff (default: the newest version)."""

    to: str | None = None


class ConfigDiffOut(BaseModel):
    """A unified diff between two stored versions."""

    device: str
    old: str
    new: str
    diff: str
    changed_secrets: list[str] = Field(
        description="lines whose only difference is a secret (both values masked): rotations"
    )


class IntendedOut(BaseModel):
    """A device's intended config (secrets masked) and what validation found in it."""

    device: str
    platform: str
    features: list[str]
    text: str
    score: float
    rules_applied: int
    rules_passed: int
    llm: Literal["not configured", "passed", "findings", "unavailable"]
    llm_prompt: str | None = Field(None, description="the prompt version the LLM review used")
    findings: list[Finding]


class ReportQuery(Strict):
    """Which compliance report, in which format."""

    format: Literal["json", "csv", "html"] = "json"
    device: str | None = None  # one device only


class ValidateRequest(Strict):
    """A config to check against the compliance rules and the hardening baselines."""

    text: str = Field(min_length=1, description="the config, as `show running-config` prints it")
    platform: str | None = Field(None, description="ios, eos, nxos or junos (default: detected)")
    name: str = Field("config", min_length=1, max_length=200, description="names it in findings")


class ValidateOut(BaseModel):
    """What the rules found in a config, and which platform it was read as."""

    name: str
    platform: str
    platform_detected: bool
    score: float
    rules_applied: int
    rules_passed: int
    findings: list[Finding]


class IntendedQuery(Strict):
    """Whether to add the (slower) LLM review."""

    llm: bool = False


class ComplianceList(Page):
    """Compliance results."""

    items: list[ComplianceRecord]


class PlanOut(BaseModel):
    """A dry run: the change to approve (none when the device already matches or failed)."""

    device: str
    in_sync: bool
    error: str | None = None
    change: Change | None = None
    score: float
    llm: Literal["not configured", "passed", "findings", "unavailable"]
    llm_prompt: str | None = Field(None, description="the prompt version the LLM review used")


class ChangeQuery(PageQuery):
    """Filters for planned changes."""

    device: str | None = None
    status: (
        Literal[
            "pending",
            "approved",
            "deploying",
            "deployed",
            "failed",
            "rolled_back",
            "stale",
            "rejected",
        ]
        | None
    ) = None


class ChangeList(Page):
    """Planned changes, newest first."""

    items: list[Change]


class ApproveIn(Strict):
    """The hash of the exact diff the approver reviewed."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class DeployOut(BaseModel):
    """How a deploy ended."""

    change: Change
    status: Literal["deployed", "unchanged", "stale", "failed", "rolled_back"]
    reason: str | None = None
    sent: int
    rollback: str | None = None
    post_checks: list[dict[str, Any]]


class FactsOut(BaseModel):
    """A device's parsed show outputs (TextFSM rows per kind) and the kinds that failed."""

    device: str
    collected_at: float
    facts: dict[str, list[dict[str, Any]]]
    errors: dict[str, str]


class FactsRunOut(BaseModel):
    """A fact collection of one device just now."""

    device: str
    ok: bool
    error: str | None = None
    kinds: list[str]
    errors: dict[str, str]
    duration: float
