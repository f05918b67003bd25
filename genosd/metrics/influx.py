"""InfluxDB writers: /api/v2/write through influxdb-client's async API, and the 1.x /write API.

Both raise SinkError for a failure worth retrying (unreachable, 5xx, 429) and SinkRejected for data
the server refuses (4xx), so the forwarder neither loses good points nor loops on bad ones.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp

from genosd.errors import SinkError
from genosd.settings import InfluxSettings


class SinkRejected(SinkError):
    """The server refused the data itself; retrying the same batch cannot succeed."""


class MetricsSink(Protocol):
    """Something that takes batches of line-protocol lines."""

    name: str

    async def write(self, lines: list[str]) -> None:
        """Deliver all lines or raise SinkError."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _classify(status: int, body: str) -> SinkError:
    text = f"HTTP {status}: {body[:300]}"
    if status in (408, 429) or status >= 500:
        return SinkError(text)
    return SinkRejected(text)


class InfluxV2Writer:
    """InfluxDB 2.x/3.x (or any /api/v2/write server) through influxdb-client's async client."""

    name = "influxdb-v2"

    def __init__(self, settings: InfluxSettings):
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        assert settings.url
        self._settings = settings
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
            raise _classify(int(exc.status or 0), str(exc.body or exc.reason)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}") from exc

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
                    raise _classify(response.status, await response.text())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SinkError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def make_sink(settings: InfluxSettings) -> MetricsSink | None:
    """The configured InfluxDB writer, or None when no URL is set."""
    if not settings.url:
        return None
    return InfluxV2Writer(settings) if settings.api == "v2" else InfluxV1Writer(settings)
