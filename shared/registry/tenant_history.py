"""A tenant's history of account and secret changes: who created, rotated, revoked or disabled what, and when.

Each succeeded change the portal, the secrets API or an operator makes is kept as an `event-…` row in the
tenant's `PortalState` partition (next to the audit record every change also writes to the log), newest first
by RowKey, at most MAX_EVENTS per tenant. Rows hold ids and names, never a secret.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.registry.errors import EntityConflict, EntityNotFound, RegistryError
from shared.registry.storage import PORTAL_TABLE, Delete, Insert, RegistryStorage

log = logging.getLogger(__name__)

ROW_PREFIX = "event-"
MAX_EVENTS = 500
_NEWEST_FIRST = 10**19  # RowKeys sort ascending: the newest event gets the smallest number
_TEXT_LIMIT = 200


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime | None
    action: str
    actor: str
    client_id: str
    secret_id: str
    detail: str


def _text(value: object) -> str:
    text = " ".join(str(value).split())
    return "".join(c for c in text if c.isprintable())[:_TEXT_LIMIT]


def record(
    storage: RegistryStorage,
    tenant_ids: Iterable[str],
    action: str,
    actor: str,
    client_id: str = "",
    secret_id: str = "",
    detail: str = "",
) -> None:
    """Keeps one event per tenant; best effort: a failure is logged, never undoes or fails the change itself."""
    now = datetime.now(UTC)
    for tenant_id in tenant_ids:
        row_key = f"{ROW_PREFIX}{_NEWEST_FIRST - time.time_ns():019d}-{secrets.token_hex(3)}"
        entity = {
            "PartitionKey": tenant_id,
            "RowKey": row_key,
            "At": now,
            "Action": _text(action),
            "Actor": _text(actor),
            "ClientId": _text(client_id),
            "SecretId": _text(secret_id),
            "Detail": _text(detail),
        }
        try:
            storage.commit(PORTAL_TABLE, [Insert(entity)])
            _trim(storage, tenant_id)
        except RegistryError as error:
            log.warning("tenant history not written: %s", type(error).__name__)


def _events(storage: RegistryStorage, tenant_id: str) -> list[dict[str, object]]:
    rows = storage.partition(PORTAL_TABLE, tenant_id)
    return sorted(
        (r.entity for r in rows if str(r.entity["RowKey"]).startswith(ROW_PREFIX)), key=lambda e: str(e["RowKey"])
    )


def _trim(storage: RegistryStorage, tenant_id: str) -> None:
    for entity in _events(storage, tenant_id)[MAX_EVENTS:]:
        try:
            storage.commit(PORTAL_TABLE, [Delete(tenant_id, str(entity["RowKey"]))])
        except (EntityConflict, EntityNotFound):
            pass


def _moment(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


def recent(storage: RegistryStorage, tenant_id: str, limit: int = 100) -> list[HistoryEvent]:
    """The tenant's newest events, newest first."""
    return [
        HistoryEvent(
            at=_moment(e.get("At")),
            action=str(e.get("Action", "")),
            actor=str(e.get("Actor", "")),
            client_id=str(e.get("ClientId", "")),
            secret_id=str(e.get("SecretId", "")),
            detail=str(e.get("Detail", "")),
        )
        for e in _events(storage, tenant_id)[:limit]
    ]
