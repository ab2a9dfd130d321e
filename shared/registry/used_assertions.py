"""Accepts each client assertion's `jti` once across every instance: a conditional insert into the UsedAssertions table.

Rows are PartitionKey = client_id, RowKey = SHA-256 of the jti, ExpiresAt = when the assertion stops being
valid (its `exp` plus the clock skew allowed). Two instances inserting the same row race in Table Storage
itself, so exactly one wins. A row whose ExpiresAt has passed no longer blocks its jti (the assertion
carrying it is expired anyway) and is deleted by the cleanup each instance runs now and then per client.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from shared import process_state
from shared.registry.columns import EntityReader
from shared.registry.errors import EntityConflict, EntityNotFound, MisconfiguredEntity
from shared.registry.storage import USED_ASSERTIONS_TABLE, Delete, Insert, RegistryStorage, Replace

log = logging.getLogger(__name__)

TABLE = USED_ASSERTIONS_TABLE
CLEANUP_INTERVAL_SECONDS = 600.0
_MAX_CLEANUP_MEMO = 10_000

_cleanup_lock = threading.Lock()
_last_cleanup: OrderedDict[str, float] = OrderedDict()


def _forget_cleanups() -> None:
    with _cleanup_lock:
        _last_cleanup.clear()


process_state.register("registry.used_assertions_cleanup", _forget_cleanups)


def row_key(jti: str) -> str:
    """The jti as a RowKey: its hex SHA-256 (a jti may hold characters Table Storage keys may not)."""
    return hashlib.sha256(jti.encode("utf-8")).hexdigest()


def _expires_at(entity: dict[str, object]) -> datetime | None:
    try:
        return EntityReader(TABLE, entity).moment("ExpiresAt")
    except MisconfiguredEntity:
        return None


def accept_once(
    storage: RegistryStorage, client_id: str, jti: str, valid_until: float, now: float | None = None
) -> bool:
    """True the first time (client_id, jti) is presented while valid, False on every replay.

    `valid_until` is a Unix time: the assertion's exp plus the allowed clock skew. A RegistryError other
    than the conflict (storage unreachable) propagates: without the guard, no assertion is accepted.
    """
    now = time.time() if now is None else now
    key = row_key(jti)
    entity = {
        "PartitionKey": client_id,
        "RowKey": key,
        "ExpiresAt": datetime.fromtimestamp(valid_until, UTC),
    }
    try:
        storage.commit(TABLE, [Insert(entity)])
    except EntityConflict:
        existing = storage.row(TABLE, client_id, key)
        if existing is None:
            return False  # deleted by a cleanup meanwhile: refuse rather than race
        expires = _expires_at(existing.entity)
        if expires is None or expires.timestamp() > now:
            return False
        # The earlier use has expired: take the row over, conditionally, so only one racer wins.
        try:
            storage.commit(TABLE, [Replace(entity, etag=existing.etag)])
        except (EntityConflict, EntityNotFound):
            return False
    _maybe_clean(storage, client_id, now)
    return True


def _maybe_clean(storage: RegistryStorage, client_id: str, now: float) -> None:
    monotonic = time.monotonic()
    with _cleanup_lock:
        last = _last_cleanup.get(client_id)
        if last is not None and monotonic - last < CLEANUP_INTERVAL_SECONDS:
            return
        _last_cleanup.pop(client_id, None)
        while len(_last_cleanup) >= _MAX_CLEANUP_MEMO:
            _last_cleanup.popitem(last=False)
        _last_cleanup[client_id] = monotonic
    try:
        purge_expired(storage, client_id, now)
    except Exception as error:  # cleanup is housekeeping: it must never fail an accepted assertion
        log.warning("could not purge expired assertion ids of client %s: %s", client_id, type(error).__name__)


def purge_expired(storage: RegistryStorage, client_id: str, now: float | None = None) -> int:
    """Deletes the client's rows whose assertions have expired (each only if unchanged since read); their count."""
    now = time.time() if now is None else now
    removed = 0
    for row in storage.partition(TABLE, client_id):
        expires = _expires_at(row.entity)
        if expires is not None and expires.timestamp() > now:
            continue
        try:
            storage.commit(TABLE, [Delete(client_id, str(row.entity["RowKey"]), etag=row.etag)])
            removed += 1
        except (EntityConflict, EntityNotFound):
            pass
    return removed
