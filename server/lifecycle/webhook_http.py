"""The outbound client for webhook deliveries: built for receivers we do not control.

An overall deadline per delivery, a cap on the response read, no redirects followed, no proxy
settings from the environment — and every address a host name resolves to is checked at connect
time, then that checked address is the one connected to (no second lookup to rebind; the guarded
transport of server/addresses.py, shared with the credential checks of API-key integrations).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from server.addresses import AddressRefused, Unresolvable, guarded_transport
from server.http import no_cookies

_RESPONSE_CAP = 65_536


class DeliveryFailed(Exception):
    """The request could not be made or got no response (the message says why, without secrets)."""


class BlockedAddress(DeliveryFailed):
    """The receiver's host resolved to an address Latchkey refuses to send to."""


@dataclass(frozen=True)
class ReceiverResponse:
    status: int


class WebhookHTTP:
    def __init__(self, *, deadline: float, allow_loopback: bool) -> None:
        self.deadline = deadline
        self._client = httpx.AsyncClient(
            transport=guarded_transport(allow_loopback=allow_loopback),
            timeout=httpx.Timeout(deadline, connect=min(5.0, deadline)),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "Latchkey-Webhooks/0.1"},
            cookies=no_cookies(),
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> ReceiverResponse:
        try:
            async with asyncio.timeout(self.deadline):
                async with self._client.stream("POST", url, content=body, headers=headers) as response:
                    read = 0
                    async for chunk in response.aiter_bytes():
                        read += len(chunk)
                        if read > _RESPONSE_CAP:
                            break  # the status is all we need; do not read an endless body
                    return ReceiverResponse(response.status_code)
        except AddressRefused as exc:
            raise BlockedAddress(str(exc)) from exc
        except Unresolvable as exc:
            raise DeliveryFailed(str(exc)) from exc
        except TimeoutError as exc:
            raise DeliveryFailed(f"The receiver did not answer within {self.deadline:g} s.") from exc
        except httpx.TimeoutException as exc:
            raise DeliveryFailed(f"The receiver did not answer within {self.deadline:g} s.") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"The receiver could not be reached ({exc.__class__.__name__}).") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
