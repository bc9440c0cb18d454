"""The one factory for outbound HTTP: built for hostile providers.

Every call has an overall deadline (not only a read timeout), a response size cap, and follows
no redirects. Requests to Latchkey's own origin (the sandbox provider) are served in-process.
With `addresses.guarded_transport`, it connects only to addresses the SSRF rule allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from server.errors import ProviderError, ProviderUnavailable


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

    async def aclose(self) -> None:
        await self._client.aclose()
