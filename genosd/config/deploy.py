"""Reading running configs and pushing approved changes: verify, post-check, roll back on failure.

A deploy recomputes the commands from the live running config and refuses unless their SHA-256
is the approved one. After pushing it re-reads the running config, checks it converged to the
intended one and runs the post-checks; any failure (including a session cut mid-push) rolls the
device back to the config read before the push and checks that the rollback converged too.
Where the platform can (Junos `commit confirmed`, an EOS session's `commit timer`) the push is
confirmed only after those checks, so a device genosd loses mid-deploy reverts by itself.
Blocking (netmiko through Nornir): call from a worker thread in async code.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from hier_config import HConfig, WorkflowRemediation
from nornir.core.exceptions import NornirSubTaskError
from nornir.core.task import Result, Task

from genosd.config.commit import CommitModel, commit_model
from genosd.config.normalize import strip_volatile
from genosd.config.remediation import remediate, scoped
from genosd.errors import DeviceError
from genosd.platforms import Platform
from genosd.settings_sections import PostCheck
from genosd.ssh.cli import netmiko_session
from genosd.ssh.hostkeys import KnownHosts, Policy
from genosd.ssh.journal import noting
from genosd.ssh.nornir import describe_error, nornir_for
from genosd.ssh.target import SshTarget

log = logging.getLogger(__name__)

# the config to converge to, or how to derive it from the running config read before the push
Intended = str | Callable[[str], str]
DeployStatus = Literal["deployed", "unchanged", "stale", "failed", "rolled_back"]


@dataclass(frozen=True)
class ReadResult:
    """One device's running config as read (text None and an error when it could not be)."""

    device: str
    text: str | None
    error: str | None = None


@dataclass
class DeployOutcome:
    """How a deploy ended on one device."""

    device: str
    status: DeployStatus
    sha256: str = ""
    reason: str | None = None
    sent: int = 0
    post_checks: list[dict[str, Any]] = field(default_factory=list)
    rollback: str | None = None
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """For the change record and the API."""
        return {
            "device": self.device,
            "status": self.status,
            "sha256": self.sha256,
            "reason": self.reason,
            "sent": self.sent,
            "post_checks": self.post_checks,
            "rollback": self.rollback,
            "duration": round(self.duration, 3),
        }


class DeployFailed(DeviceError):
    """The push, the convergence check or a post-check failed (the device is rolled back)."""


def push_lines(tree: HConfig) -> list[str]:
    """Config-mode lines for a hier_config tree: each section's children, then `exit`."""
    lines: list[str] = []

    def walk(node: Any) -> None:
        for child in node.children:
            lines.append(child.text)
            if tuple(child.children):
                walk(child)
                lines.append("exit")

    walk(tree)
    return lines


def _connection(task: Task) -> Any:
    return task.host.get_connection("netmiko", task.nornir.config)


def _noting_if(sends: bool, task: Task, what: str) -> contextlib.AbstractContextManager[object]:
    """The command history's note of `what`, when it sends anything to the device."""
    return noting(task.host.name, "config", what) if sends else contextlib.nullcontext()


def _show(task: Task, platform: Platform, command: str, timeout: float) -> str:
    with noting(task.host.name, "show", command) as noted:
        output = _connection(task).send_command(command, read_timeout=timeout)
        noted.append(str(output))
    if not isinstance(output, str) or platform.refused(output):
        raise DeviceError(f"{command!r} failed: {str(output)[:200]!r}")
    return output


def _running(task: Task, platform: Platform, timeout: float) -> str:
    text = _show(task, platform, platform.commands["running_config"], timeout)
    if len(text.strip()) < 10:
        raise DeviceError("the running config came back empty")
    return strip_volatile(platform, text)


def _send(
    task: Task,
    model: CommitModel,
    features: list[str] | None,
    have: str,
    want: str,
    timeout: float,
    confirm_minutes: int | None = None,
) -> int:
    """Push what takes `have` to `want` (over the owned scope); the number of lines sent.

    With `confirm_minutes` on a platform that can, the device reverts the push by itself unless
    `model.confirm` follows in time (`commit confirmed`, an EOS session's `commit timer`).
    """
    flow = WorkflowRemediation(
        scoped(model.platform, features, have), scoped(model.platform, features, want)
    )
    lines = push_lines(flow.remediation_config)
    if lines:
        with noting(task.host.name, "config", "\n".join(lines)):
            model.push(_connection(task), lines, timeout, confirm_minutes)
    return len(lines)


def _post_checks(
    task: Task, platform: Platform, checks: Iterable[PostCheck], timeout: float
) -> list[dict[str, Any]]:
    results = []
    for check in checks:
        if check.platforms and platform.name not in check.platforms:
            continue
        try:
            output = _show(task, platform, check.command, timeout)
        except DeviceError as exc:
            results.append({"name": check.name, "ok": False, "detail": str(exc)})
            continue
        problems = []
        if check.must_match and not re.search(check.must_match, output, re.MULTILINE):
            problems.append(f"output lacks /{check.must_match}/")
        if check.must_not_match and re.search(check.must_not_match, output, re.MULTILINE):
            problems.append(f"output has /{check.must_not_match}/")
        results.append({"name": check.name, "ok": not problems, "detail": "; ".join(problems)})
    return results


def _reconnect(task: Task) -> None:
    # the old session may already be dead; that is why we reconnect
    with contextlib.suppress(Exception):
        task.host.close_connection("netmiko")


def _rollback(
    task: Task, model: CommitModel, features: list[str] | None, before: str, timeout: float
) -> str:
    """Put the device back to `before`; 'verified' or a description of what went wrong."""
    platform = model.platform
    last: BaseException | None = None
    for attempt in range(3):
        try:
            if attempt:
                _reconnect(task)
                time.sleep(0.5 * attempt)
            with _noting_if(model.reverts_by_itself, task, f"discard the {model.how}"):
                model.discard(_connection(task), timeout)
            now = _running(task, platform, timeout)
            # undo over the scope of both configs: lines the push added and lines it removed
            _send(task, model, features, now, before, timeout)
            left = remediate(
                platform, features, task.host.name, _running(task, platform, timeout), before
            ).commands
            if left:
                return f"failed: {len(left)} line(s) still differ after the rollback: {left[0]!r}"
            return "verified"
        except Exception as exc:
            last = exc
            _reconnect(task)
    return f"failed: {describe_error(last)}"


def _deploy_task(
    task: Task,
    known: KnownHosts,
    policy: Policy,
    intended: Intended,
    features: list[str] | None,
    expected_sha: str,
    checks: list[PostCheck],
    save: bool,
    confirm_minutes: int,
) -> Result:
    target: SshTarget = task.host.data["target"]
    platform = target.platform
    started = time.monotonic()
    outcome = DeployOutcome(target.name, "failed")
    try:
        known.enforce(target.address, target.port, policy, target.timeout)
        netmiko_session(task, known)  # opened against the device's pinned key alone
        before = _running(task, platform, target.timeout)
    except (DeviceError, NornirSubTaskError, OSError, EOFError) as exc:
        outcome.reason = f"could not read the running config, nothing sent: {describe_error(exc)}"
        return _done(task, outcome, started)
    except Exception as exc:
        outcome.reason = f"could not connect, nothing sent: {describe_error(exc)}"
        return _done(task, outcome, started)
    if callable(intended):
        intended = intended(before)
    plan = remediate(platform, features, target.name, before, intended)
    outcome.sha256 = plan.sha256
    if plan.sha256 != expected_sha:
        outcome.status = "stale"
        outcome.reason = (
            "the diff changed since it was approved (the device or the intended "
            "config changed); nothing sent, plan again"
        )
        return _done(task, outcome, started)
    if plan.empty:
        outcome.status = "unchanged"
        return _done(task, outcome, started)
    model = commit_model(platform, expected_sha)
    try:
        outcome.sent = _send(
            task, model, features, before, intended, target.timeout, confirm_minutes
        )
        after = _running(task, platform, target.timeout)
        left = remediate(platform, features, target.name, after, intended).commands
        if left:
            raise DeployFailed(f"did not converge: {len(left)} line(s) still differ: {left[0]!r}")
        outcome.post_checks = _post_checks(task, platform, checks, target.timeout)
        failed = [c["name"] for c in outcome.post_checks if not c["ok"]]
        if failed:
            raise DeployFailed(f"post-check(s) failed: {', '.join(failed)}")
        what = f"confirm the {model.how}" if model.reverts_by_itself else ""
        what += (" and " if what else "") + "save the config" if save else ""
        with _noting_if(bool(what), task, what):
            model.confirm(_connection(task), target.timeout, save)
    except Exception as exc:
        outcome.reason = str(exc) if isinstance(exc, DeployFailed) else describe_error(exc)
        log.warning("%s: deploy failed (%s); rolling back", target.name, outcome.reason)
        outcome.rollback = _rollback(task, model, features, before, target.timeout)
        outcome.status = "rolled_back" if outcome.rollback == "verified" else "failed"
        if outcome.status == "failed" and model.reverts_by_itself:
            outcome.rollback += (
                f"; an unconfirmed push reverts by itself within "
                f"{confirm_minutes} min ({model.how})"
            )
        return _done(task, outcome, started)
    outcome.status = "deployed"
    return _done(task, outcome, started)


def _done(task: Task, outcome: DeployOutcome, started: float) -> Result:
    outcome.duration = time.monotonic() - started
    return Result(
        host=task.host, result=outcome, failed=outcome.status in ("failed", "rolled_back")
    )


def deploy(
    target: SshTarget,
    known_hosts: KnownHosts,
    *,
    intended: Intended,
    features: list[str] | None,
    expected_sha: str,
    post_checks: list[PostCheck],
    policy: Policy = "strict",
    save: bool = True,
    confirm_minutes: int = 5,
) -> DeployOutcome:
    """Push an approved change to one device, verify it, roll back on any failure.

    `intended` is the config to converge to, or a function of the running config read at the
    start of the deploy (a restore takes its secrets from it); `features` None is the whole config.
    """
    nr = nornir_for([target], known_hosts.path, 1)
    try:
        aggregated = nr.run(
            task=_deploy_task,
            known=known_hosts,
            policy=policy,
            intended=intended,
            features=features,
            expected_sha=expected_sha,
            checks=post_checks,
            save=save,
            confirm_minutes=confirm_minutes,
            on_failed=True,
        )
    finally:
        nr.close_connections(on_good=True, on_failed=True)
    result = aggregated[target.name][0]
    if isinstance(result.result, DeployOutcome):
        return result.result
    return DeployOutcome(target.name, "failed", reason=describe_error(result.exception))


def _read_task(task: Task, known: KnownHosts, policy: Policy) -> Result:
    target: SshTarget = task.host.data["target"]
    platform = target.platform
    try:
        known.enforce(target.address, target.port, policy, target.timeout)
        text = _running(task, platform, target.timeout)
    except Exception as exc:
        return Result(
            host=task.host, failed=True, result=ReadResult(target.name, None, describe_error(exc))
        )
    return Result(host=task.host, result=ReadResult(target.name, text))


def read_running(
    targets: list[SshTarget],
    known_hosts: KnownHosts,
    *,
    policy: Policy = "accept-new",
    concurrency: int = 20,
) -> dict[str, ReadResult]:
    """Each target's running config (volatile lines stripped, secrets intact: never store it)."""
    if not targets:
        return {}
    nr = nornir_for(targets, known_hosts.path, min(concurrency, len(targets)))
    try:
        aggregated = nr.run(task=_read_task, known=known_hosts, policy=policy, on_failed=True)
    finally:
        nr.close_connections(on_good=True, on_failed=True)
    out = {}
    for target in targets:
        result = aggregated[target.name][0]
        out[target.name] = (
            result.result
            if isinstance(result.result, ReadResult)
            else ReadResult(target.name, None, describe_error(result.exception))
        )
    return out
