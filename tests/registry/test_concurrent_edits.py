"""Concurrent edits of one tenant lose no update (ETags), and no reader ever sees a half-written entity."""

from __future__ import annotations

import string
import threading
from dataclasses import replace

import pytest
from gateway_testing import MakeTenant

from shared.registry.errors import EntityConflict
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

WRITERS = 8
EDITS_PER_WRITER = 4


def type_name(writer: int, edit: int) -> str:
    return "Zz" + string.ascii_lowercase[writer] + string.ascii_lowercase[edit]


def test_concurrent_read_modify_writes_lose_no_update_and_readers_see_whole_entities(
    make_tenant: MakeTenant,
) -> None:
    tenant = make_tenant()
    registry().save_tenant(
        replace(
            registry().get_tenant(tenant.tenant_id),
            allowed_resource_types=("Patient",),
            display_name="gen-0",
            auth=replace(tenant.auth, scope="gen-0"),
        )
    )
    conflicts: list[int] = []
    torn: list[str] = []
    stop = threading.Event()

    def writer(number: int) -> None:
        for edit in range(EDITS_PER_WRITER):
            while True:
                current = registry().get_tenant(tenant.tenant_id)
                generation = f"gen-{number}-{edit}"
                changed = replace(
                    current,
                    display_name=generation,
                    auth=replace(current.auth, scope=generation),
                    allowed_resource_types=(*current.allowed_resource_types, type_name(number, edit)),
                )
                try:
                    registry().save_tenant(changed)
                    break
                except EntityConflict:
                    conflicts.append(number)

    def reader() -> None:
        while not stop.is_set():
            seen = registry().get_tenant(tenant.tenant_id)
            if seen.display_name != seen.auth.scope:
                torn.append(f"{seen.display_name} / {seen.auth.scope}")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()

    final = registry().get_tenant(tenant.tenant_id).allowed_resource_types
    expected = {type_name(w, e) for w in range(WRITERS) for e in range(EDITS_PER_WRITER)}
    assert expected <= set(final) and len(final) == len(expected) + 1
    assert conflicts, "the writers really did collide, and the ETag refused the stale ones"
    assert torn == []
