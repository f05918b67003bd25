"""The config lifecycle's device work: render, validate, plan (dry run), deploy.

Blocking methods (SSH through Nornir) run on a worker thread. Database writes (changes, compliance,
audit) and events belong to the workflows in genosd.app.changes, which call these.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

from genosd.collectors.facts import stored_facts
from genosd.config.backup import BackupResult, ReadConfig, read_configs, store
from genosd.config.changes import Change
from genosd.config.deploy import DeployOutcome, Intended, deploy, read_running
from genosd.config.detect import detect_platform
from genosd.config.findings import Finding
from genosd.config.history import ConfigHistory
from genosd.config.junos_set import curly_to_set, is_curly
from genosd.config.remediation import Remediation, remediate
from genosd.config.render import RenderedConfig, Renderer, TemplateError
from genosd.config.restore import unmask
from genosd.config.rules import RuleSet, load_rules
from genosd.config.secrets import Masker, install_key
from genosd.config.validate import ValidationReport, check_rules, llm_review, validate_config
from genosd.config.waivers import Waiver, list_waivers
from genosd.errors import ConfigError, InvalidRequestError, NotManagedError
from genosd.inventory import Device, Inventory
from genosd.llm import LlmLayer
from genosd.llm.prompts import PromptBook
from genosd.platforms import Platform, load_platforms
from genosd.settings import GenosdSettings
from genosd.settings_sections import ConfigsSettings
from genosd.ssh.hostkeys import KnownHosts
from genosd.statedb import connect, state_db_path

log = logging.getLogger(__name__)
Facts = dict[str, list[dict[str, object]]]


@dataclass(frozen=True)
class FileReport:
    """A config file's validation: which platform it was read as, and the findings."""

    name: str
    platform: str
    detected: bool  # the platform came from the text, not from the caller
    report: ValidationReport
    converted: bool = False  # a curly-brace Junos config, checked as its set lines


@dataclass
class DevicePlan:
    """A dry run for one device: what would be sent (masked for display), and the findings."""

    device: str
    error: str | None = None
    sha256: str | None = None
    commands: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    report: ValidationReport | None = None
    rendered: RenderedConfig | None = None
    template_error: TemplateError | None = None  # the device's templates failed: nothing rendered


def rule_paths(configs: ConfigsSettings) -> list[Path]:
    """The compliance rule files: the configured ones (which must exist), else <templates_dir>/rules."""
    if configs.rules is not None:
        return list(configs.rules)
    default = configs.templates_dir / "rules"
    if not default.is_dir():
        log.warning("no compliance rules: %s does not exist", default)
        return []
    return [default]


def baseline_paths(configs: ConfigsSettings) -> list[Path]:
    """The hardening baselines: the configured ones, else <templates_dir>/rules/baselines."""
    if configs.baselines is not None:
        return list(configs.baselines)
    default = configs.templates_dir / "rules" / "baselines"
    return [default] if default.is_dir() else []


def validate_file(
    rules: RuleSet, baselines: RuleSet, text: str, name: str, platform_name: str | None
) -> FileReport:
    """Check a config file against its platform's baseline (else the compliance rules).

    The platform is detected from the text unless given (InvalidRequestError when it cannot be);
    a curly-brace Junos config is read as its set lines. Nothing is stored: quoted lines are
    masked without the install's key.
    """
    # a file saved by some editors starts with a byte-order mark; it would hide the first line
    # from every rule (CRLF line ends need nothing: lines are split and stripped)
    text = text.removeprefix("\ufeff")
    detected = platform_name is None
    chosen = detect_platform(text) if platform_name is None else platform_name
    known = load_platforms()
    if chosen is None:
        raise InvalidRequestError(
            f"{name}: cannot tell which platform this config is from; name it "
            f"({', '.join(sorted(known))})"
        )
    if chosen not in known:
        raise InvalidRequestError(f"unknown platform {chosen!r}; known: {', '.join(sorted(known))}")
    converted = chosen == "junos" and is_curly(text)
    if converted:  # the rules read Junos as `display set` lines
        text = curly_to_set(text)
    baseline = [r for r in baselines.rules if not r.platforms or chosen in r.platforms]
    applied = RuleSet(tuple(baseline)) if baseline else rules
    device = Device(name=name, hostname=name, platform=chosen, groups=(), tags=(), data={})
    report = check_rules(device, Masker(known[chosen]), text, applied)
    return FileReport(name, chosen, detected, report, converted)


def load_rule_set(configs: ConfigsSettings) -> RuleSet:
    """The compliance rules of intended and running configs."""
    return load_rules(rule_paths(configs))


def profile(device: Device) -> Platform:
    """The device's platform data; ConfigError when genosd does not know its platform."""
    if device.profile is None:
        raise ConfigError(f"{device.name}: unknown platform {device.platform!r}")
    return device.profile


class Lifecycle:
    """Render, validate, plan and deploy for the devices of one inventory."""

    def __init__(
        self,
        settings: GenosdSettings,
        inventory: Inventory,
        known_hosts: KnownHosts,
        history: ConfigHistory,
        renderer: Renderer | None = None,
        llm: LlmLayer | None = None,
        prompts: PromptBook | None = None,
    ):
        self.settings = settings
        self.llm = llm
        self.prompts = prompts or PromptBook()
        self.inventory = inventory
        self.known_hosts = known_hosts
        self.history = history
        templates = settings.configs.templates_dir
        # a reload keeps the renderer (and Jinja's compiled templates) while the directory stays
        reuse = renderer is not None and renderer.templates_dir == templates
        self.renderer = renderer if reuse and renderer is not None else Renderer(templates)
        self._running: dict[str, RuleSet] = {}

    @functools.cached_property
    def mask_key(self) -> bytes:
        """The install's masking key (<state_dir>/mask.key, created on first use)."""
        return install_key(self.settings.state_dir)

    def masker(self, device: Device) -> Masker:
        """Masks this device's secrets with its stable tokens."""
        return Masker(profile(device), device.name, self.mask_key)

    def masked_text(self, device: Device, text: str) -> str:
        """Any text about the device (a command's output, a prompt) with its secrets masked:
        config secrets, and its own SSH credentials."""
        if device.platform:
            text = self.masker(device).free_text(text)
        if device.ssh is not None:
            for secret in (device.ssh.password, device.ssh.enable_secret):
                if secret and len(secret) >= 4:
                    text = text.replace(secret, "<masked>")
        return text

    def shown(self, device: Device, text: str) -> str:
        """A config of the device as it may be shown: every secret masked."""
        return self.masker(device).text(text).text

    @functools.cached_property
    def baselines(self) -> RuleSet:
        """The hardening baselines (loaded on first use; ConfigError if a file is bad)."""
        return load_rules(baseline_paths(self.settings.configs))

    def running_rules(self, platform: str) -> RuleSet:
        """Rules for a running config: the compliance rules and (unless `configs.check_baselines`
        is off) the platform's hardening baseline."""
        if not self.settings.configs.check_baselines:
            return self.rules
        cached = self._running.get(platform)
        if cached is None:
            baseline = [r for r in self.baselines.rules if platform in r.platforms]
            cached = self._running[platform] = RuleSet((*self.rules.rules, *baseline))
        return cached

    def validate_file(self, text: str, name: str, platform_name: str | None) -> FileReport:
        """Check a config file (any device's, managed or not) against rules and baselines."""
        return validate_file(self.rules, self.baselines, text, name, platform_name)

    @functools.cached_property
    def rules(self) -> RuleSet:
        """The compliance rules (loaded on first use; ConfigError if a file is bad)."""
        return load_rule_set(self.settings.configs)

    def device(self, name: str) -> Device:
        """A device that can be managed over SSH, or NotManagedError saying what is missing."""
        device = self.inventory.device(name)
        if device.ssh is None:
            raise NotManagedError(name, "SSH", "data.ssh.credential")
        return device

    def known_rules(self) -> set[str]:
        """Ids of every loaded compliance rule and baseline rule (what a waiver may name)."""
        return {rule.id for rule in (*self.rules.rules, *self.baselines.rules)}

    def waivers(self) -> list[Waiver]:
        """The compliance waivers in force (read from the state database)."""
        db = connect(state_db_path(self.settings.state_dir))  # WAL: safe beside the daemon's
        try:
            return list_waivers(db)
        finally:
            db.close()

    def facts(self, names: list[str]) -> dict[str, Facts]:
        """The newest stored facts of each device (empty before its first collection)."""
        db = connect(state_db_path(self.settings.state_dir))  # WAL: safe beside the daemon's
        try:
            found = {name: stored_facts(db, name) for name in names}
        finally:
            db.close()
        return {name: result.facts if result else {} for name, result in found.items()}

    def render(self, device: Device, facts: Facts | None = None) -> RenderedConfig:
        """The device's intended config (TemplateError on a template problem)."""
        if facts is None:
            facts = self.facts([device.name])[device.name]
        return self.renderer.render(device, facts)

    def validate(
        self, device: Device, rendered: RenderedConfig, waivers: list[Waiver] | None = None
    ) -> ValidationReport:
        """Structure and compliance findings for a rendered config (waivers read if not given)."""
        masker = self.masker(device)
        features, text = list(rendered.features), rendered.text
        in_force = self.waivers() if waivers is None else waivers
        return validate_config(device, masker, features, text, self.rules, in_force)

    async def review(self, device: Device, plan: DevicePlan) -> None:
        """Add the LLM review to a plan's findings (when an LLM is configured)."""
        if plan.report is None or plan.rendered is None:
            return
        await llm_review(
            plan.report, self.llm, self.masker(device), plan.rendered.text, self.prompts
        )

    def plan(self, devices: list[Device], features: list[str] | None = None) -> list[DevicePlan]:
        """Dry run: render, validate and diff against the live running config (blocking).

        `features` narrows the change to those of the device's rendered features (a device
        that renders none of them has nothing to change); None means all of them.
        """
        plans: dict[str, DevicePlan] = {}
        reachable = []
        facts = self.facts([d.name for d in devices])
        waivers = self.waivers()  # once for the run, not once per device
        for device in devices:
            plan = plans[device.name] = DevicePlan(device.name)
            try:
                plan.rendered = narrowed(self.render(device, facts[device.name]), features)
            except TemplateError as exc:
                plan.error, plan.template_error = str(exc), exc
                continue
            plan.report = self.validate(device, plan.rendered, waivers)
            reachable.append(device)
        ssh = self.settings.ssh
        running = read_running(
            [d.ssh for d in reachable if d.ssh],
            self.known_hosts,
            policy=ssh.host_key_policy,
            concurrency=ssh.concurrency,
        )
        for device in reachable:
            plan, read = plans[device.name], running[device.name]
            if read.text is None:
                plan.error = f"could not read the running config: {read.error}"
                continue
            assert plan.rendered is not None
            masker = self.masker(device)
            features = list(plan.rendered.features)
            _show_fix(
                plan,
                masker,
                remediate(masker.platform, features, device.name, read.text, plan.rendered.text),
            )
        return [plans[d.name] for d in devices]

    def plan_restore(self, device: Device, version: str) -> DevicePlan:
        """Dry run of bringing a stored version back (blocking); the whole config is in scope.

        NotFoundError for an unknown version. Secrets come from the live config (history has
        them masked): a masked line the device no longer has is left out, as a major finding.
        """
        stored = self.history.show(device.name, version)
        plan = DevicePlan(device.name)
        assert device.ssh is not None
        ssh = self.settings.ssh
        read = read_running([device.ssh], self.known_hosts, policy=ssh.host_key_policy)[device.name]
        if read.text is None:
            plan.error = f"could not read the running config: {read.error}"
            return plan
        masker = self.masker(device)
        restored = unmask(masker, stored, read.text)
        plan.report = check_rules(device, masker, restored.text, self.rules, self.waivers())
        plan.report.findings[:0] = [
            Finding(
                layer="restore",
                rule="secret-not-restorable",
                severity="major",
                line=number,
                text=line,
                message="this line's secret is masked in history and the device "
                "has no line like it to take it from; the restore leaves it out",
            )
            for number, line in restored.unresolved
        ]
        fix = remediate(masker.platform, None, device.name, read.text, restored.text)
        _show_fix(plan, masker, fix)
        return plan

    def deploy(self, change: Change, actor: str) -> tuple[DeployOutcome, BackupResult | None]:
        """Push an approved change (blocking), then back the device up as `actor`'s change."""
        outcome, read = self.push(change)
        return outcome, self.keep(read, actor)

    def push(
        self, change: Change, stored: str | None = None
    ) -> tuple[DeployOutcome, ReadConfig | BackupResult | None]:
        """Push an approved change (blocking) and read the config it left for the history (None
        when nothing was pushed). A restore's stored version comes from this node's history, or
        as `stored` from the node that asked for the deploy."""
        device = self.device(change.device)
        assert device.ssh is not None
        intended: Intended
        features: list[str] | None
        if change.kind == "restore":
            if stored is None:
                if change.source is None:
                    raise ConfigError(f"change {change.id}: a restore without a stored version")
                stored = self.history.show(device.name, change.source)
            masker, version = self.masker(device), stored
            intended, features = (lambda running: unmask(masker, version, running).text), None
        else:
            rendered = narrowed(self.render(device), change.features)
            intended, features = rendered.text, list(rendered.features)
        outcome = deploy(
            device.ssh,
            self.known_hosts,
            intended=intended,
            features=features,
            expected_sha=change.sha256,
            post_checks=list(self.settings.configs.post_checks),
            policy=self.settings.ssh.host_key_policy,
            save=self.settings.configs.save_after_deploy,
            confirm_minutes=self.settings.configs.commit_confirm_minutes,
        )
        _mask_outcome(outcome, self.masker(device))
        if outcome.status not in ("deployed", "rolled_back"):
            return outcome, None
        ssh = self.settings.ssh
        [read] = read_configs(
            [device.ssh],
            self.known_hosts,
            policy=ssh.host_key_policy,
            mask=ssh.mask_secrets,
            mask_key=self.mask_key,
        )
        return outcome, read

    def keep(self, read: ReadConfig | BackupResult | None, actor: str) -> BackupResult | None:
        """A config read after a deploy, committed to the history as `actor`'s change."""
        if isinstance(read, ReadConfig):
            saved = store(self.history, read, actor)
            self.history.checkout()
            return saved
        return read


def narrowed(rendered: RenderedConfig, features: list[str] | None) -> RenderedConfig:
    """The rendered config limited to `features` (None: unchanged), in render order."""
    if features is None:
        return rendered
    kept = {name: text for name, text in rendered.features.items() if name in features}
    return RenderedConfig(rendered.device, rendered.platform, kept)


def _show_fix(plan: DevicePlan, masker: Masker, fix: Remediation) -> None:
    """Put a remediation into a plan: its hash (of the real text), and its lines masked."""
    plan.sha256 = fix.sha256
    plan.commands = masker.lines(fix.commands)
    plan.rollback = masker.lines(fix.rollback)
    plan.diff = masker.lines(fix.diff)


def _mask_outcome(outcome: DeployOutcome, masker: Masker) -> None:
    """A failure reason or post-check output may quote a pushed line: mask it before it is kept."""
    if outcome.reason:
        outcome.reason = masker.free_text(outcome.reason)
    for check in outcome.post_checks:
        for name, value in check.items():
            if isinstance(value, str):
                check[name] = masker.free_text(value)
