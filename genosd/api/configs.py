"""Device configs: backups, stored versions and diffs, intended configs, compliance."""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp import web

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import (
    BackupRequest,
    BackupResultOut,
    BackupRunOut,
    ComplianceList,
    ConfigDiffOut,
    ConfigTextOut,
    ConfigVersionList,
    ConfigVersionOut,
    DiffQuery,
    IntendedOut,
    IntendedQuery,
    PageQuery,
    ReportQuery,
    ValidateOut,
    ValidateRequest,
)
from genosd.app import changes
from genosd.app.backups import run_backup
from genosd.app.compliance import fleet_report
from genosd.app.core import AppCore
from genosd.auth.keys import Role
from genosd.config.compliance import compliance_history
from genosd.config.history import ConfigHistory
from genosd.config.report import FleetCompliance, report_csv, report_html
from genosd.config.secrets import diff_changed_secrets
from genosd.endpoints import Api

routes = Api("genosd", __version__)


@routes.route(
    "POST",
    "/api/v1/configs/backup",
    tag="configs",
    role=Role.operator,
    body=BackupRequest,
    response=BackupRunOut,
    conflicts=True,
)
async def backup_now(request: web.Request, body: BackupRequest) -> BackupRunOut:
    """Back up the selected SSH devices now (blocks until the run is done)."""
    core = runtime_of(request).core
    devices = core.inventory.select(body.model_dump(exclude_none=True))
    results = await run_backup(core, devices, actor_of(request))
    return BackupRunOut(
        devices=len(results),
        changed=sum(r.changed for r in results),
        failed=sum(not r.ok for r in results),
        results=[BackupResultOut(**dataclasses.asdict(r)) for r in results],
    )


def _history(core: AppCore, name: str) -> ConfigHistory:
    core.inventory.device(name)  # 404 for a device the inventory does not have
    return core.history


@routes.route(
    "GET",
    "/api/v1/devices/{name}/configs",
    tag="configs",
    role=Role.viewer,
    query=PageQuery,
    response=ConfigVersionList,
)
async def list_config_versions(request: web.Request, query: PageQuery) -> ConfigVersionList:
    """Stored versions of the device's config, newest first."""
    name = request.match_info["name"]
    history = _history(runtime_of(request).core, name)
    versions = await asyncio.to_thread(history.versions, name, 10_000)
    page = versions[query.offset : query.offset + query.limit]
    return ConfigVersionList(
        items=[ConfigVersionOut(**dataclasses.asdict(v)) for v in page],
        total=len(versions),
        limit=query.limit,
        offset=query.offset,
    )


@routes.route(
    "GET",
    "/api/v1/devices/{name}/configs/{version}",
    tag="configs",
    role=Role.viewer,
    response=ConfigTextOut,
)
async def get_config_version(request: web.Request) -> ConfigTextOut:
    """One stored version (secrets were masked before storage)."""
    name, version = request.match_info["name"], request.match_info["version"]
    history = _history(runtime_of(request).core, name)
    text = await asyncio.to_thread(history.show, name, version)
    return ConfigTextOut(device=name, version=version, text=text)


@routes.route(
    "GET",
    "/api/v1/devices/{name}/configs/{version}/diff",
    tag="configs",
    role=Role.viewer,
    query=DiffQuery,
    response=ConfigDiffOut,
)
async def diff_config_versions(request: web.Request, query: DiffQuery) -> ConfigDiffOut:
    """Unified diff from {version} to `to` (default: the newest version)."""
    name, version = request.match_info["name"], request.match_info["version"]
    history = _history(runtime_of(request).core, name)
    diff = await asyncio.to_thread(history.diff, name, version, query.to)
    rotated = diff_changed_secrets(diff.splitlines())
    return ConfigDiffOut(
        device=name, old=version, new=query.to or "latest", diff=diff, changed_secrets=rotated
    )


@routes.route(
    "GET",
    "/api/v1/devices/{name}/intended",
    tag="configs",
    role=Role.viewer,
    query=IntendedQuery,
    response=IntendedOut,
    config_errors=True,
)
async def get_intended(request: web.Request, query: IntendedQuery) -> IntendedOut:
    """The device's intended config rendered from templates (secrets masked), with findings."""
    found = await changes.intended(
        runtime_of(request).core, request.match_info["name"], llm=query.llm
    )
    rendered, report = found.rendered, found.report
    return IntendedOut(
        device=found.device.name,
        platform=rendered.platform,
        features=list(rendered.features),
        text=found.shown,
        score=report.score,
        rules_applied=report.rules_applied,
        rules_passed=report.rules_passed,
        llm=report.llm,
        llm_prompt=report.llm_prompt,
        findings=report.findings,
    )


@routes.route(
    "POST",
    "/api/v1/validate",
    tag="configs",
    role=Role.viewer,
    body=ValidateRequest,
    response=ValidateOut,
    config_errors=True,
)
async def validate_config_text(request: web.Request, body: ValidateRequest) -> ValidateOut:
    """Check any config (a device's, managed or not) against the rules and baselines."""
    lifecycle = runtime_of(request).core.lifecycle
    found = await asyncio.to_thread(lifecycle.validate_file, body.text, body.name, body.platform)
    report = found.report
    return ValidateOut(
        name=found.name,
        platform=found.platform,
        platform_detected=found.detected,
        score=report.score,
        rules_applied=report.rules_applied,
        rules_passed=report.rules_passed,
        findings=report.findings,
    )


@routes.route(
    "GET",
    "/api/v1/compliance/report",
    tag="configs",
    role=Role.viewer,
    query=ReportQuery,
    response=FleetCompliance,
    media_types=("application/json", "text/csv", "text/html"),
)
async def get_compliance_report(request: web.Request, query: ReportQuery) -> web.StreamResponse:
    """The fleet's compliance report (format=json, csv or html)."""
    core = runtime_of(request).core
    # a filter, like the device list's: an unknown name gives an empty report, not a 404
    known = {device.name for device in core.inventory.select() if device.platform}
    names = None if query.device is None else [n for n in (query.device,) if n in known]
    report = await fleet_report(core, names)
    if query.format == "csv":
        return web.Response(text=report_csv(report), content_type="text/csv")
    if query.format == "html":
        return web.Response(text=report_html(report), content_type="text/html")
    return web.json_response(text=report.model_dump_json())


@routes.route(
    "GET",
    "/api/v1/compliance",
    tag="configs",
    role=Role.viewer,
    query=PageQuery,
    response=ComplianceList,
)
async def list_compliance(request: web.Request, query: PageQuery) -> ComplianceList:
    """The newest compliance result of every device."""
    db = runtime_of(request).core.db
    records = await db.run(lambda c: compliance_history(c, latest_only=True))
    page = records[query.offset : query.offset + query.limit]
    return ComplianceList(items=page, total=len(records), limit=query.limit, offset=query.offset)


@routes.route(
    "GET",
    "/api/v1/devices/{name}/compliance",
    tag="configs",
    role=Role.viewer,
    query=PageQuery,
    response=ComplianceList,
)
async def device_compliance(request: web.Request, query: PageQuery) -> ComplianceList:
    """The device's compliance history, newest first."""
    core = runtime_of(request).core
    name = request.match_info["name"]
    core.inventory.device(name)  # 404 for a device the inventory does not have
    records = await core.db.run(compliance_history, name)
    page = records[query.offset : query.offset + query.limit]
    return ComplianceList(items=page, total=len(records), limit=query.limit, offset=query.offset)
