"""Every failure as the one error body, with the status and code the spec declares.

Messages are shown to any caller with a key, viewers included, so file-system paths in them are
cut down to a path relative to the configured directory they lie in (`templates/ios/ntp.j2:2`) or
to the file's name: an error body never tells a caller where the daemon keeps its files.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from aiohttp import web

from genosd.api.context import runtime_of
from genosd.endpoints import ErrorBody, ErrorCode, ErrorDetail
from genosd.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    GenosdError,
    InvalidRequestError,
    NotFoundError,
    PermissionDenied,
    RateLimited,
    SinkError,
)
from genosd.llm import LlmUnavailable

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[GenosdError], int, ErrorCode]] = [
    (AuthenticationError, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (RateLimited, 429, "rate_limited"),
    (NotFoundError, 404, "not_found"),
    (InvalidRequestError, 400, "invalid_request"),
    (ConflictError, 409, "conflict"),
    (ConfigError, 422, "config_error"),
    (LlmUnavailable, 503, "unavailable"),
    (SinkError, 503, "unavailable"),  # the metrics database, read for health and capacity
]
_HTTP_CODES: dict[int, ErrorCode] = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    503: "unavailable",
}
# an absolute path: starts after a space, quote, bracket or line start; never part of a URL
_ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"`:;,()\[\]{}<>]+/)*[^\s/'\"`:;,()\[\]{}<>]+")


@functools.lru_cache(maxsize=16)
def _anchors(roots: tuple[Path, ...]) -> list[tuple[str, str]]:
    """(resolved directory, its name), longest first (the configured directories rarely change)."""
    return sorted(
        {(str(root.resolve()), root.resolve().name) for root in roots},
        key=lambda anchor: -len(anchor[0]),
    )


def without_paths(text: str, roots: Iterable[Path]) -> str:
    """`text` with each absolute path of an existing directory made relative or cut to its name."""
    if not _ABSOLUTE.search(text):
        return text  # most error messages: no path, and no resolving (refusals come in floods)
    anchors = _anchors(tuple(roots))

    def shorten(match: re.Match[str]) -> str:
        found = match.group(0)
        for root, name in anchors:
            if found == root:
                return name
            if found.startswith(root + "/"):
                return f"{name}/{found[len(root) + 1 :]}"
        # URL paths and other slashed words do not name a directory that exists here
        if not Path(found).parent.is_dir() or Path(found).parent == Path("/"):
            return found
        return Path(found).name

    return _ABSOLUTE.sub(shorten, text)


def _public(value: object, roots: list[Path]) -> object:
    if isinstance(value, str):
        return without_paths(value, roots)
    if isinstance(value, list):
        return [_public(v, roots) for v in value]
    if isinstance(value, dict):
        return {k: _public(v, roots) for k, v in value.items()}
    return value


def _roots(request: web.Request) -> list[Path]:
    try:
        settings = runtime_of(request).core.snapshot.settings
    except KeyError:
        return [Path.cwd()]
    return [
        settings.configs.templates_dir,
        *(settings.configs.rules or []),
        settings.inventory_dir,
        settings.state_dir,
        Path.cwd(),
    ]


def error_response(
    request: web.Request, status: int, code: ErrorCode, message: str, details: object = None
) -> web.Response:
    """The error body, with file-system paths taken out of message and details."""
    roots = _roots(request)
    body = ErrorBody(
        error=ErrorDetail(
            code=code, message=without_paths(message, roots), details=_public(details, roots)
        )
    )
    return web.json_response(body.model_dump(mode="json"), status=status)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into the one error body with the right status."""
    try:
        return await handler(request)
    except GenosdError as exc:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                details = getattr(exc, "details", None)
                response = error_response(request, status, code, str(exc), details)
                if isinstance(exc, AuthenticationError):
                    response.headers["WWW-Authenticate"] = 'Bearer realm="genosd"'
                if isinstance(exc, RateLimited):
                    response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
                return response
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(request, 500, "internal", f"{type(exc).__name__}: {exc}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.text if exc.status == 413 and exc.text else exc.reason
        response = error_response(request, exc.status, code, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(request, 500, "internal", "internal error; see the daemon log")
