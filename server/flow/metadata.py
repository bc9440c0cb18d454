"""Follow-up requests made with a fresh access token, for what the token response leaves out:
Mailchimp's data centre, an Atlassian site's cloud ID."""

from __future__ import annotations

import json
from typing import Any

from server.catalog.models import MetadataRequest
from server.errors import ProviderError
from server.flow.templating import render_url
from server.flow.tokens import dig
from server.http import OutboundHTTP


async def fetch_metadata(
    http: OutboundHTTP, requests: tuple[MetadataRequest, ...], access_token: str, variables: dict[str, str]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for request in requests:
        url = render_url(request.url, variables)
        headers = {k: v.replace("{access_token}", access_token) for k, v in request.headers.items()}
        headers.setdefault("Accept", "application/json")
        response = await http.request(request.method, url, headers=headers)
        try:
            data = json.loads(response.content) if response.status == 200 else None
        except ValueError:
            data = None
        if data is None:
            if request.required:
                raise ProviderError(f"The provider's account lookup failed (HTTP {response.status}).")
            continue
        for key, path in request.extract.items():
            value = dig(data, path)
            if value is None and request.required:
                raise ProviderError(f"The provider's account lookup did not say {key!r}.")
            if isinstance(value, (str, int, float, bool)):
                found[key] = value
    return found
