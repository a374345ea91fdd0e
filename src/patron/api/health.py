"""`/healthz` and `/readyz`, outside `/api` and without credentials, for load balancers and
supervisors (docs/deploy.md). They say nothing about the database beyond "ready" or not."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from patron.api.endpoint import json_response
from patron.api.errors import error_response
from patron.api.state import Services
from patron.domain.errors import Unavailable


async def healthz(request: Request) -> Response:
    """The process is alive and its event loop turns: nothing else is checked."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers and takes writes: this process can serve every operation now."""
    services: Services = request.app.state.services
    try:
        await services.health.check_ready()
    except Unavailable as error:
        return error_response(error)
    return json_response({"status": "ready"})
