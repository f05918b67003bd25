"""The playbook format: metadata, targets, variables, rollout, steps (docs/playbooks.md).

A step names its action by a key, as in Ansible (`- backup: {}`, `- show: {commands: [...]}`),
plus the common keys: name, when, loop, register, retries, delay, timeout, on_failure. A group
(`block:` with optional `always:`) is retried as a whole for the hosts that failed in it, and its
on_failure says what such a host does after it. Actions
are the built-ins below and the tasks plugins register (their arguments validated by the task's
own model).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genosd.inventory import FILTER_KEYS
from genosd.readonly import KNOWN_READ_VERBS, read_only_problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- built-in actions and their arguments ---------------------------------------------------


class NoArgs(_Strict):
    """An action without arguments."""


class ShowArgs(_Strict):
    """Read-only commands; their output is the step's result."""

    commands: list[str] = Field(min_length=1)
    parse: bool = True  # TextFSM (ntc-templates) where a template exists

    @field_validator("commands")
    @classmethod
    def _read_only(cls, commands: list[str]) -> list[str]:
        for command in commands:
            # any platform's read verbs here; each host's own when the step runs
            problem = read_only_problem(command, sorted(KNOWN_READ_VERBS))
            if problem is not None:
                raise ValueError(problem)
        return commands


class ValidateArgs(_Strict):
    """Render the intended config and check it (structure, rules, the LLM when `llm`); a host
    fails on a finding that would block an approval."""

    llm: bool = False


class PlanArgs(_Strict):
    """Dry run against the device; its diff becomes a pending change the approval gate binds.
    `features` limits the change to those features of the intended config (e.g. ntp, snmp)."""

    features: list[str] | None = Field(None, min_length=1)


class DeployArgs(_Strict):
    """Push each host's approved change from the plan step (verified, post-checked, rolled back
    on failure); a host whose plan found nothing to change is left alone."""


class AssertArgs(_Strict):
    """Every expression must hold; the step fails on the host where one does not."""

    that: list[str] = Field(min_length=1)
    fail_msg: str = "assertion failed"


class WaitArgs(_Strict):
    """Wait a time. (To wait until something holds, give the step that reads it an `until`.)"""

    seconds: float = Field(gt=0, le=86400)


class ApprovalArgs(_Strict):
    """Pause the run until someone with `role` approves it (API, CLI, chat). The approval
    approves the batch's planned changes, bound to the hash of their diffs; with
    `only_with_changes` a batch with nothing to change passes without asking."""

    message: str
    role: Literal["operator", "admin"] = "operator"
    timeout: float = Field(86400.0, gt=0, le=7 * 86400)
    only_with_changes: bool = True


class NotifyArgs(_Strict):
    """Publish a message (an `alert` event: web console, ChatOps)."""

    message: str
    severity: Literal["info", "warning", "critical"] = "info"


class DiagnoseArgs(_Strict):
    """Run the troubleshooting checks on each host (genosd diagnose); the host fails when a
    finding is at least `fail_on` (never, with `none`)."""

    minutes: float = Field(60, gt=0, le=7 * 24 * 60)
    routing: bool = False
    fail_on: Literal["critical", "warning", "none"] = "critical"


class ReportArgs(_Strict):
    """Build a report once per batch, write it under `reports.directory` in each format and
    queue it for each target (webhook:NAME, chatops:NAME); every host gets the same result."""

    kind: Literal["inventory", "health", "capacity", "compliance", "changes"]
    formats: list[Literal["html", "csv", "json"]] = Field(["html"], min_length=1)
    send: list[str] = []


class LlmArgs(_Strict):
    """Ask the configured LLM; the answer is the step's result (never sent to a device)."""

    prompt: str
    model: str | None = None


BUILTIN_ACTIONS: dict[str, type[BaseModel]] = {
    "poll": NoArgs,
    "backup": NoArgs,
    "facts": NoArgs,
    "show": ShowArgs,
    "render": NoArgs,
    "validate": ValidateArgs,
    "plan": PlanArgs,
    "deploy": DeployArgs,
    "assert": AssertArgs,
    "wait": WaitArgs,
    "approval": ApprovalArgs,
    "notify": NotifyArgs,
    "llm": LlmArgs,
    "diagnose": DiagnoseArgs,
    "report": ReportArgs,
}
# actions that change devices: refused in check mode, where they report what they would do
CHANGING_ACTIONS = frozenset({"deploy"})

_COMMON = {
    "name",
    "when",
    "until",
    "loop",
    "register",
    "retries",
    "delay",
    "timeout",
    "on_failure",
    "block",
    "always",
}


class Step(_Strict):
    """One action, or a group of steps (`block`, optionally `always`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = ""
    action: str | None = None
    args: dict[str, Any] = {}
    when: str | None = None
    # run the action again (every `delay`, up to `retries` times) while this is false for a host
    until: str | None = None
    loop: list[Any] | str | None = None  # a list, or an expression giving one
    # `register:` in the file (a BaseModel already has a `register` attribute)
    save_as: str | None = Field(None, alias="register", pattern=r"^[a-z_][a-z0-9_]{0,63}$")
    retries: int = Field(0, ge=0, le=500)  # `until` polls may need many
    delay: float = Field(5.0, ge=0, le=3600)
    timeout: float | None = Field(None, gt=0, le=86400)
    on_failure: Literal["abort", "continue", "rollback"] = "abort"
    block: list[Step] | None = None
    always: list[Step] | None = None

    @model_validator(mode="before")
    @classmethod
    def _action_key(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "action" in data:
            return data
        actions = [k for k in data if k not in _COMMON]
        if "block" in data:
            if actions:
                raise ValueError(f"a block has no action of its own (found {', '.join(actions)})")
            return data
        if len(actions) != 1:
            raise ValueError(
                "a step names exactly one action"
                + (f" (found {', '.join(actions)})" if actions else "")
                + f"; built-in actions: {', '.join(BUILTIN_ACTIONS)}"
            )
        key = actions[0]
        rest = {k: v for k, v in data.items() if k != key}
        args = data[key]
        if args is not None and not isinstance(args, dict):
            raise ValueError(f"{key}: the action's arguments are a mapping")
        return {**rest, "action": key, "args": args or {}}

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.always is not None and self.block is None:
            raise ValueError("always: belongs to a block")
        if self.block is not None and not self.block:
            raise ValueError("a block needs at least one step")
        if self.block is not None and self.timeout is not None:
            raise ValueError("a block has no timeout of its own: set `timeout` on its steps")
        if self.block is not None and self.loop is not None:
            raise ValueError("a block has no loop: loop its steps")
        if self.until is not None and (self.save_as is None or self.block is not None):
            raise ValueError("`until` needs `register` (it names the step's result) on an action")
        if self.until is not None and self.retries == 0:
            raise ValueError("`until` needs `retries` (how many more times to try)")
        return self

    @property
    def label(self) -> str:
        """The step's name, or its action."""
        return self.name or self.action or "block"


class Variable(_Strict):
    """A typed playbook variable (`--var name=value`, the API's `vars`)."""

    type: Literal["str", "int", "float", "bool", "list"] = "str"
    default: Any = None
    required: bool = False
    description: str = ""


class Schedule(_Strict):
    """When the daemon runs the playbook by itself."""

    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (minute hour day month weekday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


_PERCENT = re.compile(r"^(100|[1-9][0-9]?)%$")


def _count_or_percent(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must be 0 or more")
        return value
    if not _PERCENT.match(value):
        raise ValueError(f"{value!r}: a count, or a percentage like '10%'")
    return value


class Rollout(_Strict):
    """How targets are split into batches and when a run stops (docs/playbooks.md#rollout)."""

    batches: list[int | str] = Field(
        default_factory=lambda: list[int | str](["100%"]), min_length=1
    )
    max_failures: int | str = 0  # per batch: more failed hosts than this stop the run
    max_failures_total: int | None = Field(None, ge=0)
    pause: float = Field(0.0, ge=0, le=86400)  # seconds between batches
    stop_on_first_failure: bool = False
    # when a batch stops the run, undo what this run deployed on every host of that batch
    rollback_batch: bool = False

    @field_validator("batches")
    @classmethod
    def _batches(cls, values: list[int | str]) -> list[int | str]:
        for value in values:
            if _count_or_percent(value) == 0:
                raise ValueError("a batch has at least one host")
        return values

    @field_validator("max_failures")
    @classmethod
    def _failures(cls, value: int | str) -> int | str:
        return _count_or_percent(value)


class Playbook(_Strict):
    """A reviewed, multi-step workflow over a set of devices."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str = ""
    role: Literal["operator", "admin"] = "operator"  # who may run it
    schedule: Schedule | None = None
    targets: dict[str, str | list[str]] = {}  # inventory filter; a list means any of
    variables: dict[str, Variable] = {}
    rollout: Rollout = Rollout()
    steps: list[Step] = Field(min_length=1)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        unknown = sorted(k for k in value if k not in FILTER_KEYS and not k.startswith("data."))
        if unknown:
            raise ValueError(
                f"unknown target key(s) {', '.join(unknown)}: use {', '.join(FILTER_KEYS)} or data.<field>"
            )
        return value

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, Variable]) -> dict[str, Variable]:
        for name in value:
            if not re.match(r"^[a-z_][a-z0-9_]{0,63}$", name) or name in ("host", "run", "item"):
                raise ValueError(f"{name!r} is not a usable variable name")
        return value
