"""Reads typed columns from hand-editable entities, naming the column when a value is wrong."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shared.registry.errors import MisconfiguredEntity

MAX_TEXT_LENGTH = 1024  # any text column; names and URLs have their own, smaller limits
MAX_URL_LENGTH = 2048
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class EntityReader:
    """Typed access to one entity's columns; every problem names table, entity and column."""

    def __init__(self, table: str, entity: Mapping[str, Any]) -> None:
        self.table = table
        self.entity = entity
        self.partition_key = str(entity.get("PartitionKey", ""))
        self.row_key = str(entity.get("RowKey", ""))

    def problem(self, column: str, what: str) -> MisconfiguredEntity:
        return MisconfiguredEntity(self.table, self.partition_key, self.row_key, column, what)

    def _raw(self, column: str, required: bool) -> Any:
        value = self.entity.get(column)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if required:
                raise self.problem(column, "is missing")
            return None
        return value

    def text(self, column: str, required: bool = True, default: str = "", max_length: int = MAX_TEXT_LENGTH) -> str:
        value = self._raw(column, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.problem(column, "must be text")
        if len(value) > max_length:
            raise self.problem(column, f"is longer than {max_length} characters")
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
            raise self.problem(column, "holds a control character (a line break, a tab, NUL, ...)")
        return value

    def flag(self, column: str, default: bool) -> bool:
        value = self._raw(column, required=False)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise self.problem(column, "must be true or false")

    def whole_number(self, column: str, minimum: int = 0) -> int | None:
        value = self._raw(column, required=False)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.problem(column, "must be a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.problem(column, "must be a whole number") from None
        if number < minimum:
            raise self.problem(column, f"must be at least {minimum}")
        return number

    def moment(self, column: str, required: bool = False) -> datetime | None:
        value = self._raw(column, required)
        if value is None:
            return None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise self.problem(column, "must be an ISO 8601 date and time") from None
        else:
            raise self.problem(column, "must be a date and time")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    def url(self, column: str, required: bool = True) -> str:
        value = self.text(column, required=required, max_length=MAX_URL_LENGTH)
        if not value:
            return value
        error = url_problem(value)
        if error:
            raise self.problem(column, error)
        return value

    def word_list(self, column: str) -> tuple[str, ...]:
        """A comma- (or space-) separated list; empty when the column is absent."""
        value = self.text(column, required=False)
        return tuple(part for part in value.replace(",", " ").split() if part)


def url_problem(value: str) -> str | None:
    """Why a provider base URL is unusable, or None when it is fine."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return "must be an absolute http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials (use the upstream auth settings)"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None
