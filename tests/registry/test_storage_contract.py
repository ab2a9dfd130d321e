"""The registry store's contract, run against Table Storage (Azurite) and the in-memory store alike:
rows with ETags, conflicts on stale ETags and existing rows, not-found on missing rows, all-or-nothing changes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from gateway_env import table_storage

from shared.registry.errors import EntityConflict, EntityNotFound
from shared.registry.memory_storage import MemoryStorage
from shared.registry.storage import CLIENTS_TABLE, Delete, Insert, Merge, RegistryStorage, Replace
from shared.registry.table_storage import TableStorage

TABLE = CLIENTS_TABLE


@pytest.fixture(
    params=[
        pytest.param("table", marks=pytest.mark.table_storage),
        pytest.param("memory"),
    ]
)
def storage(request: pytest.FixtureRequest) -> RegistryStorage:
    return TableStorage(table_storage(), "") if request.param == "table" else MemoryStorage()


@pytest.fixture
def partition(storage: RegistryStorage) -> Iterator[str]:
    """A partition of this test's own, emptied afterwards (Azurite is shared by the whole run)."""
    key = "contract-" + str(uuid.uuid4())
    yield key
    for row in storage.partition(TABLE, key):
        storage.commit(TABLE, [Delete(key, row.entity["RowKey"])])


def test_an_inserted_row_reads_back_with_an_etag(storage: RegistryStorage, partition: str) -> None:
    storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "A"})])
    row = storage.row(TABLE, partition, "client")
    assert row is not None
    assert row.entity["DisplayName"] == "A"
    assert row.entity["PartitionKey"] == partition and row.entity["RowKey"] == "client"
    assert row.etag


def test_a_missing_row_reads_as_none_and_its_partition_as_empty(storage: RegistryStorage, partition: str) -> None:
    assert storage.row(TABLE, partition, "client") is None
    assert storage.partition(TABLE, partition) == []


def test_inserting_an_existing_row_is_a_conflict(storage: RegistryStorage, partition: str) -> None:
    storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "A"})])
    with pytest.raises(EntityConflict):
        storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "B"})])
    assert storage.row(TABLE, partition, "client").entity["DisplayName"] == "A"  # type: ignore[union-attr]  # the row was just written


def test_every_write_changes_the_etag_and_a_stale_etag_is_a_conflict(storage: RegistryStorage, partition: str) -> None:
    storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "A"})])
    first = storage.row(TABLE, partition, "client")
    assert first is not None
    storage.commit(TABLE, [Merge({"PartitionKey": partition, "RowKey": "client", "Enabled": False}, etag=first.etag)])
    second = storage.row(TABLE, partition, "client")
    assert second is not None and second.etag != first.etag
    assert second.entity["DisplayName"] == "A" and second.entity["Enabled"] is False  # merge keeps other columns
    for stale in (
        Merge({"PartitionKey": partition, "RowKey": "client", "Enabled": True}, etag=first.etag),
        Replace({"PartitionKey": partition, "RowKey": "client", "DisplayName": "C"}, etag=first.etag),
        Delete(partition, "client", etag=first.etag),
    ):
        with pytest.raises(EntityConflict):
            storage.commit(TABLE, [stale])
    assert storage.row(TABLE, partition, "client").etag == second.etag  # type: ignore[union-attr]  # the row was just written


def test_replace_drops_the_columns_it_does_not_name(storage: RegistryStorage, partition: str) -> None:
    storage.commit(
        TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "A", "Enabled": True})]
    )
    row = storage.row(TABLE, partition, "client")
    assert row is not None
    storage.commit(TABLE, [Replace({"PartitionKey": partition, "RowKey": "client", "DisplayName": "B"}, etag=row.etag)])
    replaced = storage.row(TABLE, partition, "client")
    assert replaced is not None
    assert replaced.entity["DisplayName"] == "B" and "Enabled" not in replaced.entity


@pytest.mark.parametrize("change", ["merge", "replace", "delete"])
def test_changing_a_missing_row_is_not_found(storage: RegistryStorage, partition: str, change: str) -> None:
    entity = {"PartitionKey": partition, "RowKey": "secret-x", "Revoked": True}
    missing = {"merge": Merge(entity), "replace": Replace(entity), "delete": Delete(partition, "secret-x")}[change]
    with pytest.raises(EntityNotFound) as caught:
        storage.commit(TABLE, [missing])
    assert caught.value.partition_key == partition


def test_changes_commit_all_together_or_not_at_all(storage: RegistryStorage, partition: str) -> None:
    storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "A"})])
    stale = "W/\"datetime'2000-01-01T00%3A00%3A00.0000000Z'\""
    with pytest.raises(EntityConflict):
        storage.commit(
            TABLE,
            [
                Insert({"PartitionKey": partition, "RowKey": "secret-1", "SecretSha256": "0" * 64}),
                Merge({"PartitionKey": partition, "RowKey": "client", "DisplayName": "B"}, etag=stale),
            ],
        )
    assert [row.entity["RowKey"] for row in storage.partition(TABLE, partition)] == ["client"]
    row = storage.row(TABLE, partition, "client")
    assert row is not None
    storage.commit(
        TABLE,
        [
            Merge({"PartitionKey": partition, "RowKey": "client", "DisplayName": "B"}, etag=row.etag),
            Insert({"PartitionKey": partition, "RowKey": "secret-1", "SecretSha256": "0" * 64}),
        ],
    )
    assert sorted(row.entity["RowKey"] for row in storage.partition(TABLE, partition)) == ["client", "secret-1"]


def test_rows_with_a_key_span_partitions(storage: RegistryStorage, partition: str) -> None:
    other = partition + "-b"
    storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "A"})])
    storage.commit(TABLE, [Insert({"PartitionKey": other, "RowKey": "client", "DisplayName": "B"})])
    storage.commit(TABLE, [Insert({"PartitionKey": other, "RowKey": "secret-1", "SecretSha256": "0" * 64})])
    try:
        mine = {row.entity["PartitionKey"] for row in storage.rows_with_key(TABLE, "client")}
        assert {partition, other} <= mine
        assert all(row.entity["RowKey"] == "client" for row in storage.rows_with_key(TABLE, "client"))
    finally:
        storage.commit(TABLE, [Delete(other, "client"), Delete(other, "secret-1")])


def test_of_concurrent_updates_from_the_same_read_exactly_one_commits(storage: RegistryStorage, partition: str) -> None:
    storage.commit(TABLE, [Insert({"PartitionKey": partition, "RowKey": "client", "DisplayName": "start"})])
    read = storage.row(TABLE, partition, "client")
    assert read is not None
    writers = 8
    start = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        start.wait()
        try:
            storage.commit(
                TABLE, [Merge({"PartitionKey": partition, "RowKey": "client", "DisplayName": f"w{n}"}, etag=read.etag)]
            )
            result = f"w{n}"
        except EntityConflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [outcome for outcome in outcomes if outcome != "conflict"]
    assert len(winners) == 1 and outcomes.count("conflict") == writers - 1
    assert storage.row(TABLE, partition, "client").entity["DisplayName"] == winners[0]  # type: ignore[union-attr]  # the row was just written
