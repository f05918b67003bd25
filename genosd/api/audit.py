"""The audit log (admin only): search and export."""

from __future__ import annotations

import time

from aiohttp import web

from genosd import __version__, audit
from genosd.api.context import runtime_of
from genosd.api.models import (
    AuditExportQuery,
    AuditList,
    AuditQueryIn,
)
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


def _audit_query(query: AuditQueryIn | AuditExportQuery) -> audit.AuditQuery:
    return audit.AuditQuery(
        actor=query.actor,
        action=query.action,
        target=getattr(query, "target", None),
        result=getattr(query, "result", None),
        since=query.since,
        until=query.until,
    )


@routes.route(
    "GET", "/api/v1/audit", tag="audit", role=Role.admin, query=AuditQueryIn, response=AuditList
)
async def list_audit(request: web.Request, query: AuditQueryIn) -> AuditList:
    """Audit entries matching the filters, newest first."""
    core = runtime_of(request).core
    await core.settle()  # entries written behind (tool calls) are in the answer
    entries, total = await core.db.run(
        lambda db: audit.search(db, _audit_query(query), limit=query.limit, offset=query.offset)
    )
    return AuditList(
        items=entries,
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@routes.route(
    "GET",
    "/api/v1/audit/export",
    tag="audit",
    role=Role.admin,
    query=AuditExportQuery,
    media_types=("application/json", "text/csv"),
)
async def export_audit(request: web.Request, query: AuditExportQuery) -> web.Response:
    """The whole matching audit log, oldest first, as a JSON or CSV download."""
    statedb = runtime_of(request).core.db
    text = await statedb.run(lambda db: audit.export(db, _audit_query(query), query.format))
    anchored = await statedb.run(audit.head)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"Content-Disposition": f'attachment; filename="genosd-audit-{stamp}.{query.format}"'}
    if anchored:
        headers["X-Genosd-Audit-Head"] = anchored  # keep it with the export
    return web.Response(
        text=text,
        content_type="text/csv" if query.format == "csv" else "application/json",
        headers=headers,
    )
