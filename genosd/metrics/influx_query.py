"""Reading InfluxDB with InfluxQL (`/query`): what capacity and health ask of the metrics
database. InfluxDB 1.x answers it natively, 2.x through its v1 compatibility API (a DBRP mapping
for the bucket, the token as credential). Answers are streamed in chunks, one series at a time,
so half a million series never sit in memory as one JSON document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from genosd.errors import SinkError
from genosd.metrics.influx import classify, unreachable
from genosd.settings_sections import InfluxSettings

CHUNK = 10_000  # rows per chunk InfluxDB sends


@dataclass(frozen=True)
class Series:
    """One series of an answer: its tags and rows (`columns` name each row's values)."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxQuery:
    """InfluxQL queries against the configured server."""

    def __init__(self, settings: InfluxSettings):
        if not settings.url:
            raise SinkError("influx.url is not set: no metrics database to read")
        self._url = settings.url.rstrip("/") + "/query"
        self._settings = settings
        database = settings.database if settings.api == "v1" else settings.bucket
        self._params = {"db": database, "epoch": "s", "chunked": "true", "chunk_size": str(CHUNK)}
        if settings.retention_policy:
            self._params["rp"] = settings.retention_policy
        self._headers: dict[str, str] = {}
        self._auth = None
        if settings.api == "v2" and settings.token is not None:
            self._headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
        elif settings.username and settings.password:
            self._auth = aiohttp.BasicAuth(settings.username, settings.password.get_secret_value())
        self._session: aiohttp.ClientSession | None = None

    async def series(self, query: str, timeout: float = 600) -> AsyncIterator[Series]:
        """Every series the query answers, as the chunks arrive (SinkError on failure)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout)
            )
        try:
            async with self._session.post(
                self._url,
                params=self._params,
                data={"q": query},
                headers=self._headers,
                auth=self._auth,
            ) as response:
                if response.status != 200:
                    raise classify(response.status, await response.text())
                buffer = b""
                async for part in response.content.iter_any():
                    buffer += part
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        for found in _chunk(line):
                            yield found
                for found in _chunk(buffer):
                    yield found
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise unreachable(exc, self._url, timeout) from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def _chunk(line: bytes) -> list[Series]:
    if not line.strip():
        return []
    body = json.loads(line)
    found = []
    for result in body.get("results", []):
        if "error" in result:
            raise SinkError(f"InfluxDB refused the query: {result['error']}")
        for s in result.get("series", []):
            found.append(
                Series(s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values") or [])
            )
    if "error" in body:
        raise SinkError(f"InfluxDB refused the query: {body['error']}")
    return found
