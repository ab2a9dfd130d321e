"""The framework-neutral request and response every handler in shared/ takes and returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


class Headers(Mapping[str, str]):
    """Request headers, looked up case-insensitively (names are kept in lower case)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._items = {name.lower(): value for name, value in (source or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._items)!r})"  # names only: values may be credentials


@dataclass(frozen=True)
class Request:
    """One HTTP request: `url` as received (still percent-encoded), `query` and `route_params` decoded."""

    method: str
    url: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    route_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """Status, body, media type (sent with `charset`) and headers, repeatable (e.g. Set-Cookie)."""

    status: int
    body: bytes = b""
    media_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()
    charset: str = "utf-8"

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset={self.charset}"

    def header(self, name: str) -> str | None:
        if name.lower() == "content-type":
            return self.content_type
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)
