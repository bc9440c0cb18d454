"""The one factory for outbound HTTP: built for hostile providers.

Every call has an overall deadline (not only a read timeout), a response size cap, and follows
no redirects. Requests to Latchkey's own origin (the sandbox provider) are served in-process.
With `addresses.guarded_transport`, it connects only to addresses the SSRF rule allows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from server.errors import ProviderError, ProviderUnavailable


class _OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO: a webhook's `?token=`, a passthrough path, a key
    sent as a query parameter. Its records keep only the origin of the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 2 and isinstance(record.args[1], httpx.URL):
            url = record.args[1]
            origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}/…"
            record.args = (record.args[0], origin, *record.args[2:])
        return True


_HTTPX_LOGGER = logging.getLogger("httpx")
if not any(isinstance(f, _OriginOnly) for f in _HTTPX_LOGGER.filters):
    _HTTPX_LOGGER.addFilter(_OriginOnly())


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()


class OutboundHTTP:
    def __init__(
        self,
        *,
        deadline: float,
        max_bytes: int,
        mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(deadline, connect=min(5.0, deadline)),
            follow_redirects=False,
            mounts=dict(mounts or {}),
            headers={"User-Agent": "Latchkey/0.1"},
            trust_env=False,
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> ProviderResponse:
        try:
            async with asyncio.timeout(self.deadline):
                async with self._client.stream(method, url, **kwargs) as response:
                    chunks = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise ProviderError(f"The provider's response was larger than {self.max_bytes} bytes.")
                        chunks.append(chunk)
                    return ProviderResponse(response.status_code, response.headers, b"".join(chunks))
        except TimeoutError as exc:
            raise ProviderUnavailable(f"The provider did not answer within {self.deadline:g} s.") from exc
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"The provider did not answer within {self.deadline:g} s.") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"The provider could not be reached ({exc.__class__.__name__}).") from exc

    async def open_stream(
        self,
        method: str,
        url: str,
        *,
        headers: list[tuple[str, str]],
        content: bytes | AsyncIterator[bytes],
        timeout: float,
    ) -> httpx.Response:
        """The provider's answer with its body still to read (passthrough): the caller closes it and
        keeps its own overall deadline; no size cap here, and httpx's errors are the caller's to map."""
        request = self._client.build_request(
            method, url, headers=headers, content=content, timeout=httpx.Timeout(timeout, connect=min(5.0, timeout))
        )
        return await self._client.send(request, stream=True)

    async def aclose(self) -> None:
        await self._client.aclose()
