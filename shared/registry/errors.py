"""Registry errors as data: what went wrong, named by table, entity and column — never a stack trace."""

from __future__ import annotations


class RegistryError(Exception):
    """Root of every registry error; callers catch this once at their boundary."""


class EntityNotFound(RegistryError):
    """The entity does not exist."""

    def __init__(self, table: str, partition_key: str, row_key: str) -> None:
        super().__init__(f"{table} entity {partition_key}/{row_key} does not exist")
        self.table = table
        self.partition_key = partition_key


class EntityConflict(RegistryError):
    """The entity already exists, or changed since it was read (ETag mismatch)."""


class RegistryUnavailable(RegistryError):
    """Table Storage could not be reached or refused the call."""


class MisconfiguredEntity(RegistryError):
    """An entity (often edited by hand) has a missing or malformed column."""

    def __init__(self, table: str, partition_key: str, row_key: str, column: str, problem: str) -> None:
        super().__init__(f"{table} entity {partition_key}/{row_key}: column {column} {problem}")
        self.table = table
        self.partition_key = partition_key
        self.row_key = row_key
        self.column = column
        self.problem = problem
