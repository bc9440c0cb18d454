"""The one factory for outbound HTTP: built for hostile providers.

Every call has an overall deadline (not only a read timeout), a response size cap, and follows
no redirects. Requests to Latchkey's own origin (the sandbox provider) are served in-process.
With `addresses.guarded_transport`, it connects only to addresses the SSRF rule allows.

Calls to providers go through aiohttp's connection pool (`provider_transport`) under httpx's
API. Measured on this machine with 20 flows at once, httpx's own pool (httpcore) queued each
token exchange behind the others' lock hand-overs: a same-machine OAuth client's callback waited
17 ms at the median and 82 ms at p99 for a provider that answers in 0.3 ms, and the client did
875 flows/s; the same client over aiohttp's pool did 2,124 flows/s with p99 1.6 × its median.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
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


KEEPALIVE_SECONDS = 30.0  # an idle pooled connection to a provider is closed after this
MAX_CONNECTIONS = 100  # open to all providers at once; a call past it waits its turn within its deadline


def _as_httpx(exc: Exception, request: httpx.Request | None = None) -> httpx.TransportError:
    """aiohttp's error as the httpx error every caller maps: a connection refused is a ConnectError,
    a timeout a ConnectTimeout or ReadTimeout, a malformed or cut-off answer a RemoteProtocolError."""
    message = f"{exc.__class__.__name__}: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)


class _Body(httpx.AsyncByteStream):
    """An aiohttp response's body as httpx reads it, with aiohttp's errors as httpx's."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_httpx(exc) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # read to the end: the connection goes back to the pool
        else:
            self._response.close()  # cut off (size cap, deadline): the connection is dropped


class ProviderTransport(httpx.AsyncBaseTransport):
    """httpx's requests sent over aiohttp's connection pool (the reason: this module's docstring),
    aiohttp's errors raised as httpx's (`_as_httpx`). `fetch` is the same pool without httpx's
    request and response objects: a whole answer read under a size cap, what OutboundHTTP.request
    sends a provider's token endpoint (httpx's own machinery cost about as much as the call)."""

    def __init__(self, *, max_connections: int = MAX_CONNECTIONS, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self._ssl = httpx.create_ssl_context(trust_env=False)  # certifi's roots, as httpx's own pool
        self._max_connections = max_connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use: aiohttp binds a session to the running loop
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=self._keepalive, ssl=self._ssl
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # see no_cookies
                trust_env=False,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "transfer-encoding"]
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]  # streamed: aiohttp chunks it itself
        try:
            response = await self._opened().request(
                request.method,
                str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
                ),
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_httpx(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1")},
        )

    async def fetch(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, connect: float, max_bytes: int
    ) -> ProviderResponse:
        """The whole answer, decompressed, refused past `max_bytes` (counted after decompression)."""
        try:
            async with self._opened().request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                auto_decompress=True,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect),
            ) as response:
                if (response.content_length or 0) > max_bytes:
                    raise ProviderError(f"The provider's response was larger than {max_bytes} bytes.")
                chunks = []
                size = 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > max_bytes:
                        response.close()
                        raise ProviderError(f"The provider's response was larger than {max_bytes} bytes.")
                    chunks.append(chunk)
                return ProviderResponse(response.status, httpx.Headers(list(response.raw_headers)), b"".join(chunks))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_httpx(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def provider_transport() -> httpx.AsyncBaseTransport:
    """The pool calls to providers share: no proxy from the environment, certifi's roots, no retries."""
    return ProviderTransport()


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()


USER_AGENT = "Latchkey/0.1"
logger = logging.getLogger("latchkey.http")  # a call to a provider, by origin only, as httpx's own log


def no_cookies() -> CookieJar:
    """A jar that keeps nothing, for a client every connection shares: a client's own jar would
    send the cookie a provider set in one end-user's call with the next end-user's call."""
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


def _origin_of(url: str) -> str:
    """scheme://host[:port] of `url`, lowercased, as httpx matches a mount."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _encoded(
    headers: Mapping[str, str], data: Mapping[str, str] | None, json: Any, content: bytes | None
) -> tuple[dict[str, str], bytes | None]:
    """The headers and body httpx would send for the same arguments."""
    fields = {"User-Agent": USER_AGENT, **headers}
    if data is not None:
        fields.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return fields, urlencode(data, doseq=True).encode()
    if json is not None:
        fields.setdefault("Content-Type", "application/json")
        return fields, jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return fields, content


class OutboundHTTP:
    """One pool of calls: `request` for a whole answer under the deadline and the size cap,
    `open_stream` for passthrough's streamed one. Our own origin (the sandbox provider) is answered
    in-process through httpx's mounts; the rest go to `transport`, by default the providers' pool."""

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
        transport = transport or provider_transport()
        # A whole answer from a provider skips httpx's request and response objects (ProviderTransport.fetch);
        # a mounted origin, or a transport of another kind (the SSRF guard's), keeps httpx's path.
        self._direct = transport if isinstance(transport, ProviderTransport) else None
        self._mounted = tuple(_origin_of(pattern) for pattern in mounts or {})
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(deadline, connect=min(5.0, deadline)),
            follow_redirects=False,
            mounts=dict(mounts or {}),
            headers={"User-Agent": USER_AGENT},
            cookies=no_cookies(),
            trust_env=False,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> ProviderResponse:
        """`data` is sent form-encoded, `json` as JSON, `content` as it is."""
        try:
            async with asyncio.timeout(self.deadline):
                if self._direct is not None and _origin_of(url) not in self._mounted:
                    fields, body = _encoded(headers or {}, data, json, content)
                    answer = await self._direct.fetch(
                        method,
                        url,
                        headers=fields,
                        body=body,
                        connect=min(5.0, self.deadline),
                        max_bytes=self.max_bytes,
                    )
                    if logger.isEnabledFor(logging.INFO):
                        logger.info("%s %s/… %d", method, _origin_of(url), answer.status)
                    return answer
                return await self._via_httpx(method, url, headers=headers, data=data, json=json, content=content)
        except TimeoutError as exc:
            raise ProviderUnavailable(f"The provider did not answer within {self.deadline:g} s.") from exc
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"The provider did not answer within {self.deadline:g} s.") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"The provider could not be reached ({exc.__class__.__name__}).") from exc

    async def _via_httpx(self, method: str, url: str, **kwargs: Any) -> ProviderResponse:
        async with self._client.stream(method, url, **kwargs) as response:
            chunks = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ProviderError(f"The provider's response was larger than {self.max_bytes} bytes.")
                chunks.append(chunk)
            return ProviderResponse(response.status_code, response.headers, b"".join(chunks))

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
