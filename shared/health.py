"""Liveness, settings and registry reachability, reported by setting name only, without internals."""

from __future__ import annotations

import logging
from typing import Any

from shared.http_messages import Request, Response
from shared.http_responses import json_response
from shared.registry.errors import RegistryError
from shared.registry.service import registry
from shared.settings import SettingError
from shared.settings_check import setting_problems, unresolved_references_elsewhere

log = logging.getLogger(__name__)


def health_report() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 when every gateway setting reads and Table Storage answers, 503 otherwise.

    A tenant's unresolved upstream secret is a warning, not unhealthy: it breaks that tenant only, and App
    Service takes unhealthy instances out of rotation, which would stop every other tenant as well.
    """
    problems = setting_problems()
    warnings = unresolved_references_elsewhere()
    reachable = "reachable"
    try:
        registry().probe()
    except (RegistryError, SettingError) as error:
        log.warning("health: registry unreachable: %s", error)
        reachable = "unreachable"
    for problem in problems:
        log.warning("health: %s", problem)
    healthy = not problems and reachable == "reachable"
    body: dict[str, Any] = {
        "status": "healthy" if healthy else "unhealthy",
        "checks": {"registry": reachable, "settings": "invalid" if problems else "valid"},
    }
    if problems:
        body["problems"] = problems
    if warnings:
        body["warnings"] = warnings
    return (200 if healthy else 503), body


def health_endpoint(request: Request) -> Response:
    """GET /health: the report as JSON, never cached (a probe must see the instance as it is now)."""
    status, body = health_report()
    return json_response(body, status=status, headers={"Cache-Control": "no-store"})
