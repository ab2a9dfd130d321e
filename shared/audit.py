"""Structured audit records (one JSON line per event) on the `gateway.audit` logger — never values, secrets or PHI."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger("gateway.audit")

_MAX_FIELD = 128


def _safe(value: Any) -> Any:
    """Caller-supplied text is cut and stripped of control characters so it cannot forge log lines."""
    if isinstance(value, str):
        if len(value) <= _MAX_FIELD and value.isprintable():  # the usual case: nothing to cut or replace
            return value
        cleaned = "".join(ch if ch.isprintable() else "?" for ch in value[:_MAX_FIELD])
        return cleaned + ("…" if len(value) > _MAX_FIELD else "")
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    return value


def audit(event: str, **fields: Any) -> dict[str, Any]:
    """Emits one audit record and returns it; fields must never hold secrets, tokens or parameter values."""
    record = {"audit": event, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    record.update({name: _safe(value) for name, value in fields.items() if value is not None})
    log.info(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    return record
