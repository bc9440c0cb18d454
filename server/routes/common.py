from __future__ import annotations

from starlette.requests import Request

from server.services import Services


def services_of(request: Request) -> Services:
    return request.app.state.services
