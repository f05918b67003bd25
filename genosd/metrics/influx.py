"""InfluxDB writers: /api/v2/write through influxdb-client's async API, and the 1.x /write API.

Every answer that is not a success is sorted into what the forwarder must do with the points:

* `SinkUnavailable`: keep them and retry with back-off — connection errors and timeouts, 5xx,
  408 and 429 (with Retry-After), but also 401 and 403 (credentials are fixed by an operator, not
  by dropping data) and 404 (the database or bucket does not exist *yet*);
* `SinkTooLarge` (413): the batch is split and the halves sent again;
* `SinkRefusedLines`: the server stored the batch except some lines it names or counts
  (InfluxDB's "partial write"): those are counted as rejected, the batch is done;
* `SinkRefusedBatch`: any other 4xx: the server stored nothing and blames the data, so the
  forwarder halves the batch until the offending lines are found, and only those are dropped.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import aiohttp

from genosd.errors import SinkError
from genosd.settings_sections import InfluxSettings


class SinkUnavailable(SinkError):
    """The server cannot take points now; they stay in the spool and the write is retried."""

    def __init__(self, message: str, *, reason: str, retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class SinkTooLarge(SinkError):
    """The server refused the request for its size (413): send smaller batches."""


class SinkRefusedBatch(SinkError):
    """The server refused the data and stored none of it."""


class SinkRefusedLines(SinkError):
    """The server stored the batch except `count` lines it refused."""

    def __init__(self, message: str, count: int):
        super().__init__(message)
        self.count = count


class MetricsSink(Protocol):
    """Something that takes batches of line-protocol lines."""

    name: str

    async def write(self, lines: list[str]) -> None:
        """Deliver all lines or raise one of this module's SinkErrors."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


_UNAVAILABLE = {
    401: "unauthorized",
    403: "forbidden",
    404: "database_missing",
    408: "timeout",
    429: "rate_limited",
}


def _refused_count(body: str) -> int:
    """How many lines a partial write refused: `dropped=N` plus lines it could not parse."""
    dropped = sum(int(n) for n in re.findall(r"dropped=(\d+)", body))
    unparsed = body.count("unable to parse")
    lines = len(re.findall(r"\bline \d+:", body))  # InfluxDB 2.x/3.x name the lines
    return max(1, dropped + max(unparsed, lines))


def classify(status: int, body: str, retry_after: str | None = None) -> SinkError:
    """The SinkError for an HTTP answer that is not a success."""
    text = f"HTTP {status}: {body.strip()[:300]}"
    if status == 413:
        return SinkTooLarge(text)
    if status in _UNAVAILABLE or status >= 500:
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        reason = _UNAVAILABLE.get(status, "server_error")
        return SinkUnavailable(text, reason=reason, retry_after=seconds)
    if "partial write" in body:
        return SinkRefusedLines(text, _refused_count(body))
    return SinkRefusedBatch(text)


def unreachable(exc: BaseException, url: str, timeout: float) -> SinkUnavailable:
    """A transport failure, with what happened (a bare TimeoutError says nothing)."""
    if isinstance(exc, TimeoutError):
        return SinkUnavailable(f"no answer from {url} within {timeout:g}s", reason="timeout")
    detail = str(exc) or type(exc).__name__
    return SinkUnavailable(
        f"{url} unreachable: {type(exc).__name__}: {detail}", reason="unreachable"
    )


class InfluxV2Writer:
    """InfluxDB 2.x/3.x (or any /api/v2/write server) through influxdb-client's async client."""

    name = "influxdb-v2"

    def __init__(self, settings: InfluxSettings):
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        assert settings.url
        self._settings = settings
        self._url = settings.url.rstrip("/") + "/api/v2/write"
        self._client = InfluxDBClientAsync(
            url=settings.url,
            token=settings.token.get_secret_value() if settings.token else "",
            org=settings.org,
            timeout=int(settings.timeout * 1000),
        )
        self._write_api = self._client.write_api()

    async def write(self, lines: list[str]) -> None:
        """POST the lines to /api/v2/write."""
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            await self._write_api.write(
                bucket=self._settings.bucket,
                org=self._settings.org,
                record="\n".join(lines),
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # a str constant, typed as the class
            )
        except ApiException as exc:
            headers: Any = exc.headers or {}
            raise classify(
                int(exc.status or 0), str(exc.body or exc.reason), headers.get("Retry-After")
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise unreachable(exc, self._url, self._settings.timeout) from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._client.close()


class InfluxV1Writer:
    """InfluxDB 1.x: POST /write?db=…&precision=ns with optional basic auth."""

    name = "influxdb-v1"

    def __init__(self, settings: InfluxSettings):
        assert settings.url
        self._url = settings.url.rstrip("/") + "/write"
        self._params = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            self._params["rp"] = settings.retention_policy
        self._auth = (
            aiohttp.BasicAuth(settings.username, settings.password.get_secret_value())
            if settings.username and settings.password
            else None
        )
        self._seconds = settings.timeout
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout)
        self._session: aiohttp.ClientSession | None = None

    async def write(self, lines: list[str]) -> None:
        """POST the lines to /write."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self._url, params=self._params, data="\n".join(lines).encode(), auth=self._auth
            ) as response:
                if response.status != 204:
                    body = await response.text()
                    raise classify(response.status, body, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise unreachable(exc, self._url, self._seconds) from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def make_sink(settings: InfluxSettings) -> MetricsSink | None:
    """The configured InfluxDB writer, or None when no URL is set."""
    if not settings.url:
        return None
    return InfluxV2Writer(settings) if settings.api == "v2" else InfluxV1Writer(settings)
