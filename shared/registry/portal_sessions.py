"""Portal sessions on the server: a sign-in is live while its row exists, so signing out ends it everywhere.

The sealed cookie says who the user is; the `PortalState` row `session-<sid>` (partition: the user's tenant)
says the session has not ended. Signing out deletes the row, so a copy of the cookie opens nothing
afterwards; an operator can end every session of a tenant at once. Expired rows are removed when the tenant's
next user signs in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.registry.errors import EntityConflict, EntityNotFound
from shared.registry.storage import PORTAL_TABLE, Delete, Insert, RegistryStorage

ROW_PREFIX = "session-"
MAX_SWEEP = 50  # expired rows removed per sign-in: bounded work, and the partition stays small


def _row_key(sid: str) -> str:
    return ROW_PREFIX + sid


def begin(storage: RegistryStorage, tenant_id: str, sid: str, oid: str, expires: int) -> None:
    """Records a new session; then sweeps a few expired ones of the same tenant (best effort)."""
    now = datetime.now(UTC)
    entity = {"PartitionKey": tenant_id, "RowKey": _row_key(sid), "Oid": oid, "Expires": expires, "StartedAt": now}
    storage.commit(PORTAL_TABLE, [Insert(entity)])
    expired = [
        row
        for row in storage.partition(PORTAL_TABLE, tenant_id)
        if str(row.entity["RowKey"]).startswith(ROW_PREFIX) and int(row.entity.get("Expires", 0)) < now.timestamp()
    ]
    for row in expired[:MAX_SWEEP]:
        try:
            storage.commit(PORTAL_TABLE, [Delete(tenant_id, str(row.entity["RowKey"]), etag=row.etag)])
        except (EntityConflict, EntityNotFound):
            pass  # another sign-in swept it


def is_live(storage: RegistryStorage, tenant_id: str, sid: str) -> bool:
    """Whether the session has neither ended (signed out, ended by an operator) nor expired."""
    row = storage.row(PORTAL_TABLE, tenant_id, _row_key(sid))
    return row is not None and int(row.entity.get("Expires", 0)) >= datetime.now(UTC).timestamp()


def end(storage: RegistryStorage, tenant_id: str, sid: str) -> None:
    """Ends one session (sign-out); ending an ended one is fine."""
    try:
        storage.commit(PORTAL_TABLE, [Delete(tenant_id, _row_key(sid))])
    except EntityNotFound:
        pass


def end_all(storage: RegistryStorage, tenant_id: str) -> int:
    """Ends every session of a tenant's users; how many were live."""
    rows = [r for r in storage.partition(PORTAL_TABLE, tenant_id) if str(r.entity["RowKey"]).startswith(ROW_PREFIX)]
    ended = 0
    for row in rows:
        try:
            storage.commit(PORTAL_TABLE, [Delete(tenant_id, str(row.entity["RowKey"]))])
            ended += 1
        except EntityNotFound:
            pass
    return ended
