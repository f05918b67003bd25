"""API keys and the audit log (admin only)."""

from __future__ import annotations

import time

from aiohttp import web

from genosd import __version__, audit
from genosd.api.models import (
    AuditExportQuery,
    AuditList,
    AuditQueryIn,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyQuery,
)
from genosd.api.spec import PRINCIPAL, Api
from genosd.api.state import STATE
from genosd.auth.keys import ApiKey, Role, create_key, list_keys, revoke_key

routes = Api("genosd", __version__)


@routes.route("GET", "/api/v1/keys", tag="keys", role=Role.admin, query=KeyQuery, response=KeyList)
async def list_api_keys(request: web.Request, query: KeyQuery) -> KeyList:
    """API keys, newest first; secrets are never shown again."""
    statedb = request.app[STATE].statedb
    assert statedb is not None
    keys = await statedb.run(lambda db: list_keys(db, include_inactive=query.include_inactive))
    page = keys[query.offset : query.offset + query.limit]
    return KeyList(items=page, total=len(keys), limit=query.limit, offset=query.offset)


@routes.route(
    "POST",
    "/api/v1/keys",
    tag="keys",
    role=Role.admin,
    body=KeyCreate,
    response=KeyCreated,
    status=201,
)
async def create_api_key(request: web.Request, body: KeyCreate) -> KeyCreated:
    """Create a key; its secret is in this answer only."""
    statedb = request.app[STATE].statedb
    assert statedb is not None
    actor = request[PRINCIPAL].principal
    expires_in = body.expires_in_days * 86400 if body.expires_in_days else None

    new = await statedb.run(
        lambda db: create_key(
            db, name=body.name, role=body.role, created_by=actor, expires_in=expires_in
        )
    )
    return KeyCreated(**new.key.model_dump(exclude={"active"}), secret=new.secret)


@routes.route("DELETE", "/api/v1/keys/{key_id}", tag="keys", role=Role.admin, response=ApiKey)
async def revoke_api_key(request: web.Request) -> ApiKey:
    """Revoke a key (by id or prefix); it stops working at once."""
    state = request.app[STATE]
    assert state.statedb is not None
    actor = request[PRINCIPAL].principal
    ident = request.match_info["key_id"]
    revoked = await state.statedb.run(lambda db: revoke_key(db, ident, actor=actor))
    state.key_cache.clear()
    return revoked


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
    statedb = request.app[STATE].statedb
    assert statedb is not None
    entries, total = await statedb.run(
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
    statedb = request.app[STATE].statedb
    assert statedb is not None
    text = await statedb.run(lambda db: audit.export(db, _audit_query(query), query.format))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return web.Response(
        text=text,
        content_type="text/csv" if query.format == "csv" else "application/json",
        headers={
            "Content-Disposition": f'attachment; filename="genosd-audit-{stamp}.{query.format}"'
        },
    )
