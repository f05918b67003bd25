"""The LLM layer over the API: what each task kind resolves to, and what the models cost."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from genosd import __version__
from genosd.api.context import runtime_of
from genosd.api.models import Strict
from genosd.app.llm import resolved_models, usage_totals
from genosd.auth.keys import Role
from genosd.endpoints import Api

routes = Api("genosd", __version__)


class LlmModels(BaseModel):
    """Each server's reachability and models; per task kind, the configured models in order,
    those a server has (what calls will try), and why the others are left out."""

    configured: bool
    providers: list[dict[str, Any]]
    kinds: dict[str, dict[str, Any]]


class UsageQuery(Strict):
    """Since when."""

    since: float = Field(0.0, ge=0, description="Unix seconds")


class LlmUsage(BaseModel):
    """Calls, tokens, mean latency, cache hits and failures by model and by task kind."""

    since: float
    by_model: list[dict[str, Any]]
    by_kind: list[dict[str, Any]]
    recent_failures: list[dict[str, Any]]
    cache_lookups: int
    cache_hits: int


@routes.route("GET", "/api/v1/llm/models", tag="llm", role=Role.viewer, response=LlmModels)
async def get_models(request: web.Request) -> LlmModels:
    """What each task kind's models resolve to on the configured servers."""
    return LlmModels.model_validate(await resolved_models(runtime_of(request).core.llm))


@routes.route(
    "GET", "/api/v1/llm/usage", tag="llm", role=Role.viewer, query=UsageQuery, response=LlmUsage
)
async def get_usage(request: web.Request, query: UsageQuery) -> LlmUsage:
    """Usage totals by model and kind since `since`, and the newest failures."""
    core = runtime_of(request).core
    await core.settle()
    totals = await core.db.run(usage_totals, query.since)
    return LlmUsage(**totals, cache_lookups=core.llm.cache_lookups, cache_hits=core.llm.cache_hits)
