"""Declared API endpoints: one table drives routing, validation, authorization and the OpenAPI spec.

Each endpoint names its role (None = public), its query and body models and its response model.
The wrapper validates the request against the models, checks the caller's key and role, rate-limits
per key, calls the handler and serialises its answer; `openapi()` renders the same table as an
OpenAPI 3.1 document, so the spec cannot drift from what the server does.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from genosd.auth.keys import ApiKey, Role
from genosd.errors import InvalidRequestError

Handler = Callable[..., Awaitable[Any]]
Authorizer = Callable[[web.Request, "Endpoint"], Awaitable[ApiKey | None]]
PRINCIPAL = web.RequestKey("principal", ApiKey)


ErrorCode = Literal[
    "invalid_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "config_error",
    "rate_limited",
    "internal",
    "unavailable",
    "http_error",
]


class ErrorDetail(BaseModel):
    """The inner error object."""

    code: ErrorCode
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error response: {"error": {"code", "message", "details"}}."""

    error: ErrorDetail


@dataclass(frozen=True)
class Endpoint:
    """One declared route."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    role: Role | None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    media_types: tuple[str, ...] = ("application/json",)
    namespace: str = ""  # plugins' operations are prefixed with the plugin name
    conflicts: bool = False  # may answer 409: conflicting work, or a device without SSH/SNMP
    config_errors: bool = False  # may answer 422 when templates or rule files are invalid
    unavailable: bool = False  # may answer 503 when no model (or other backend) answers
    # a route without an API key says what authenticates its callers instead (a chat
    # platform's request signature); plugins may add public routes only with this
    signed_by: str | None = None

    @property
    def operation_id(self) -> str:
        """The handler's name (after the plugin's name, for plugin routes): stable and unique."""
        return (
            f"{self.namespace}_{self.handler.__name__}" if self.namespace else self.handler.__name__
        )

    @property
    def spec_path(self) -> str:
        """The path as OpenAPI writes it: aiohttp's `{name:regex}` becomes `{name}`."""
        return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    @property
    def mutating(self) -> bool:
        """Whether the endpoint changes state (and is therefore audited)."""
        return self.method not in ("GET", "HEAD")


_PATH_PARAM = re.compile(r"{(\w+)(?::([^{}]+))?}")
# a path parameter restricted to digits is an integer in the spec
_INTEGER_PATTERNS = {r"\d+", "[0-9]+"}


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic errors as plain data for an error body."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
    ]


@dataclass
class Api:
    """The endpoint table of one application."""

    title: str
    version: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        tag: str,
        role: Role | None,
        response: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        status: int = 200,
        media_types: tuple[str, ...] = ("application/json",),
        conflicts: bool = False,
        config_errors: bool = False,
        unavailable: bool = False,
        signed_by: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint; the handler's docstring's first line is its summary."""

        def register(handler: Handler) -> Handler:
            summary = (handler.__doc__ or handler.__name__).strip().splitlines()[0]
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    summary,
                    tag,
                    role,
                    query,
                    body,
                    response,
                    status,
                    media_types,
                    conflicts=conflicts,
                    config_errors=config_errors,
                    unavailable=unavailable,
                    signed_by=signed_by,
                )
            )
            return handler

        return register

    def install(self, app: web.Application, authorize: Authorizer) -> None:
        """Add every endpoint to the app's router behind validation and `authorize`."""
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint, authorize))

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the table."""
        models: set[type[BaseModel]] = {ErrorBody}
        for e in self.endpoints:
            models.update(m for m in (e.body, e.response) if m is not None)
        keyed: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
            (m, "serialization") for m in sorted(models, key=lambda m: m.__name__)
        ]
        _, schema = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
        paths: dict[str, dict[str, Any]] = {}
        for e in self.endpoints:
            paths.setdefault(e.spec_path, {})[e.method.lower()] = _operation(e)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schema.get("$defs", {}),
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                },
            },
        }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    # a query string cannot carry null: an optional parameter is simply left out
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    if not options or len(options) == len(schema["anyOf"]):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest, **options[0]} if len(options) == 1 else {**rest, "anyOf": options}


def _operation(e: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0}
            if pattern in _INTEGER_PATTERNS
            else {"type": "string"},
        }
        for name, pattern in _PATH_PARAM.findall(e.path)
    ]
    if e.query is not None:
        query_schema = e.query.model_json_schema()
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": _without_null(prop),
                }
            )
    if e.response is not None:
        content: dict[str, Any] = {"application/json": {"schema": _ref(e.response)}}
        # other forms of the same answer (a report as CSV or HTML) are text
        content.update(
            {
                media: {"schema": {"type": "string"}}
                for media in e.media_types
                if media != "application/json"
            }
        )
    else:
        content = {
            media: {
                "schema": {}
                if media in ("application/json", "application/yaml")
                else {"type": "string"}
            }
            for media in e.media_types
        }
    error = {"content": {"application/json": {"schema": _ref(ErrorBody)}}}
    responses: dict[str, Any] = {str(e.status): {"description": "success", "content": content}}
    # the HTTP layer itself answers an over-long request line or header in plain text
    responses["400"] = {
        "description": "invalid request",
        "content": {
            "application/json": {"schema": _ref(ErrorBody)},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
    if e.role is not None:
        responses["401"] = {"description": "missing, unknown, revoked or expired API key", **error}
        responses["403"] = {"description": f"needs role {e.role.value} or higher", **error}
        responses["429"] = {"description": "rate limit exceeded", **error}
    if "{" in e.path:
        responses["404"] = {"description": "not found", **error}
    if e.signed_by is not None:
        responses["401"] = {"description": f"not authenticated by {e.signed_by}", **error}
        responses["404"] = {"description": "this integration is not enabled", **error}
        responses["415"] = {"description": "not the content type the caller sends", **error}
    if e.conflicts:
        responses["409"] = {
            "description": "conflicting work is in progress, or the device lacks the SSH or "
            "SNMP settings this needs",
            **error,
        }
    if e.body is not None:
        responses["413"] = {"description": "the request body is too large", **error}
    if e.config_errors:
        responses["422"] = {"description": "a template or rule file is invalid", **error}
    if e.unavailable:
        responses["503"] = {"description": "no model server (or backend) answered", **error}
    operation: dict[str, Any] = {
        "operationId": e.operation_id,
        "summary": e.summary,
        "tags": [e.tag],
        "parameters": parameters,
        "responses": responses,
        "security": [] if e.role is None else [{"bearer": []}, {"apiKey": []}],
    }
    if e.role is not None:
        operation["x-genosd-role"] = e.role.value
    if e.signed_by is not None:
        operation["x-genosd-signed-by"] = e.signed_by
    if e.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(e.body)}},
        }
    return operation


def _wrap(endpoint: Endpoint, authorize: Authorizer) -> Callable[[web.Request], Awaitable[Any]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        key = await authorize(request, endpoint)
        if key is not None:
            request[PRINCIPAL] = key
        kwargs: dict[str, Any] = {}
        repeated = sorted(k for k in set(request.query) if len(request.query.getall(k)) > 1)
        if repeated:
            raise InvalidRequestError(
                f"query parameters given more than once: {', '.join(repeated)}"
            )
        if endpoint.query is not None:
            try:
                kwargs["query"] = endpoint.query.model_validate(dict(request.query))
            except ValidationError as exc:
                raise InvalidRequestError("invalid query", validation_details(exc)) from None
        elif request.query:
            raise InvalidRequestError(f"unexpected query parameters: {', '.join(request.query)}")
        if endpoint.body is not None:
            try:
                raw = await request.read()
                kwargs["body"] = endpoint.body.model_validate_json(raw or b"null", strict=True)
            except ValidationError as exc:
                raise InvalidRequestError("invalid body", validation_details(exc)) from None
        result = await endpoint.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        assert endpoint.response is not None and isinstance(result, endpoint.response), (
            f"{endpoint.operation_id} returned {type(result).__name__}"
        )
        return web.Response(
            body=result.model_dump_json().encode(),
            status=endpoint.status,
            content_type="application/json",
        )

    handle.__name__ = endpoint.operation_id
    return handle
