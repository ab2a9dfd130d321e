"""Liveness and registry reachability, reported without internals."""

from __future__ import annotations

import logging
from typing import Any

from shared.registry import connection
from shared.registry.errors import RegistryError
from shared.settings import SettingError

log = logging.getLogger(__name__)


def health_report() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 when Table Storage answers, 503 otherwise."""
    try:
        connection.query(connection.CLIENTS_TABLE, "PartitionKey eq @pk", pk="health-probe")
    except (RegistryError, SettingError) as error:
        log.warning("health: registry unreachable: %s", error)
        return 503, {"status": "unhealthy", "checks": {"registry": "unreachable"}}
    return 200, {"status": "healthy", "checks": {"registry": "reachable"}}
