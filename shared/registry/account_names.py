"""One account per name and at most N accounts per tenant, even when creations race.

A customer's app accounts are client rows in their own partitions, which Table Storage cannot change
together. So each portal-created account first claims, in the tenant's `PortalState` partition and in one
transaction, a `name-<hash>` row (its normalised name) and a `slot-<n>` row (n below the cap): of racing
creations with one name, or past the cap, all but one fail to insert and are refused. Claims whose account
no longer exists (deleted by an operator) are released after a grace period that covers a creation in flight.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.registry.errors import EntityConflict, EntityNotFound
from shared.registry.storage import PORTAL_TABLE, Delete, Insert, RegistryStorage, Row

NAME_PREFIX = "name-"
SLOT_PREFIX = "slot-"
CLAIM_GRACE = timedelta(minutes=2)  # a claim without its account is a creation in flight until then
MAX_ATTEMPTS = 8


class NameTaken(Exception):
    """The tenant has an account with this name."""

    def __init__(self, client_id: str) -> None:
        super().__init__("an account with this name exists")
        self.client_id = client_id


class TooManyAccounts(Exception):
    """The tenant holds the most accounts allowed."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"at most {cap} accounts per tenant")
        self.cap = cap


class Contended(Exception):
    """Concurrent creations kept winning; the caller may retry."""


def normalised(name: str) -> str:
    return " ".join(name.split()).casefold()


def _name_key(name: str) -> str:
    return NAME_PREFIX + hashlib.sha256(normalised(name).encode()).hexdigest()[:40]


def _stale(row: Row, exists: Callable[[str], bool], now: datetime) -> bool:
    claimed = row.entity.get("ClaimedAt")
    young = isinstance(claimed, datetime) and now - claimed.astimezone(UTC) < CLAIM_GRACE
    return not young and not exists(str(row.entity.get("ClientId", "")))


def _release(storage: RegistryStorage, tenant_id: str, row: Row) -> None:
    try:
        storage.commit(PORTAL_TABLE, [Delete(tenant_id, str(row.entity["RowKey"]), etag=row.etag)])
    except (EntityConflict, EntityNotFound):
        pass  # someone else released or re-claimed it


def claim(
    storage: RegistryStorage,
    tenant_id: str,
    name: str,
    client_id: str,
    cap: int,
    unclaimed: int,
    exists: Callable[[str], bool],
) -> None:
    """Claims `name` and a slot for the account `client_id` is about to become.

    `unclaimed` counts the tenant's accounts made before claims existed (they use slots too); `exists(id)`
    says whether an account still exists. NameTaken, TooManyAccounts, or Contended after repeated races.
    """
    key = _name_key(name)
    for attempt in range(MAX_ATTEMPTS):
        now = datetime.now(UTC)
        rows = storage.partition(PORTAL_TABLE, tenant_id)
        by_key = {str(r.entity["RowKey"]): r for r in rows}
        taken = by_key.get(key)
        if taken is not None:
            if not _stale(taken, exists, now):
                raise NameTaken(str(taken.entity.get("ClientId", "")))
            _release(storage, tenant_id, taken)
            continue
        slots = [f"{SLOT_PREFIX}{n:03d}" for n in range(max(cap - unclaimed, 0))]
        free = [s for s in slots if s not in by_key]
        if not free:
            stale = [by_key[s] for s in slots if _stale(by_key[s], exists, now)]
            if not stale:
                raise TooManyAccounts(cap)
            for row in stale:
                _release(storage, tenant_id, row)
            continue
        columns = {"PartitionKey": tenant_id, "ClientId": client_id, "DisplayName": name, "ClaimedAt": now}
        try:
            storage.commit(PORTAL_TABLE, [Insert({**columns, "RowKey": key}), Insert({**columns, "RowKey": free[0]})])
            return
        except EntityConflict:
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
    raise Contended("concurrent account creations kept winning")


def release(storage: RegistryStorage, tenant_id: str, name: str, client_id: str) -> None:
    """Gives back the claims of an account that was not created after all."""
    for row in storage.partition(PORTAL_TABLE, tenant_id):
        key = str(row.entity["RowKey"])
        if key.startswith((NAME_PREFIX, SLOT_PREFIX)) and row.entity.get("ClientId") == client_id:
            _release(storage, tenant_id, row)


def claimed_client_ids(storage: RegistryStorage, tenant_id: str) -> set[str]:
    return {
        str(r.entity.get("ClientId", ""))
        for r in storage.partition(PORTAL_TABLE, tenant_id)
        if str(r.entity["RowKey"]).startswith(SLOT_PREFIX)
    }
