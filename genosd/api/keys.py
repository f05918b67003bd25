"""API keys (admin only): create, list, revoke."""

from __future__ import annotations

from aiohttp import web

from genosd import __version__
from genosd.api.context import actor_of, runtime_of
from genosd.api.models import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyQuery,
)
from genosd.auth.keys import ApiKey, Role, create_key, list_keys, revoke_key
from genosd.endpoints import Api

routes = Api("genosd", __version__)


@routes.route("GET", "/api/v1/keys", tag="keys", role=Role.admin, query=KeyQuery, response=KeyList)
async def list_api_keys(request: web.Request, query: KeyQuery) -> KeyList:
    """API keys, newest first; secrets are never shown again."""
    statedb = runtime_of(request).core.db
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
    runtime = runtime_of(request)
    statedb = runtime.core.db
    actor = actor_of(request)
    expires_in = body.expires_in_days * 86400 if body.expires_in_days else None

    new = await statedb.run(
        lambda db: create_key(
            db, name=body.name, role=body.role, created_by=actor, expires_in=expires_in
        )
    )
    runtime.key_cache.clear()  # the set of live key prefixes changed
    return KeyCreated(**new.key.model_dump(exclude={"active"}), secret=new.secret)


@routes.route("DELETE", "/api/v1/keys/{key_id}", tag="keys", role=Role.admin, response=ApiKey)
async def revoke_api_key(request: web.Request) -> ApiKey:
    """Revoke a key (by id or prefix); it stops working at once."""
    runtime = runtime_of(request)
    actor = actor_of(request)
    ident = request.match_info["key_id"]
    revoked = await runtime.core.db.run(lambda db: revoke_key(db, ident, actor=actor))
    runtime.key_cache.clear()
    return revoked
