"""Reading the app root's host.json: the HTTP route prefix."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ROUTE_PREFIX = "api"


class HostConfigError(ValueError):
    """host.json exists but cannot be used."""


def read_host_json(root: Path) -> dict[str, Any]:
    """The parsed host.json of the app root; {} (with a warning) when there is none."""
    path = root / "host.json"
    if not path.is_file():
        logger.warning("No host.json in %s; using the Functions host defaults", root)
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise HostConfigError(f"{path}: cannot read host.json: {error}") from error
    if not isinstance(data, dict):
        raise HostConfigError(f"{path}: host.json must be a JSON object")
    return data


def route_prefix(host_json: dict[str, Any]) -> str:
    """extensions.http.routePrefix, default "api"; "" serves routes at the root. Slashes are trimmed."""
    extensions = host_json.get("extensions")
    http = extensions.get("http") if isinstance(extensions, dict) else None
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX) if isinstance(http, dict) else DEFAULT_ROUTE_PREFIX
    if prefix is None:
        return DEFAULT_ROUTE_PREFIX
    if not isinstance(prefix, str):
        raise HostConfigError(f"host.json extensions.http.routePrefix must be a string, not {prefix!r}")
    return prefix.strip().strip("/")
