"""The last N requests the sandbox received, kept in memory for tests to inspect."""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

Entry = dict[str, Any]
MAX_BODY = 64 * 1024


def header_name(cgi_key: str) -> str:
    """`HTTP_X_REQUEST_ID` -> `X-Request-Id`."""
    key = cgi_key[5:] if cgi_key.startswith("HTTP_") else cgi_key
    return "-".join(part.capitalize() for part in key.split("_"))


def describe_headers(environ: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Request headers without Authorization, and whether Authorization came (and its scheme)."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_") and key != "HTTP_AUTHORIZATION":
            headers[header_name(key)] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[header_name(key)] = value
    auth = environ.get("HTTP_AUTHORIZATION")
    scheme = auth.split(None, 1)[0] if auth and auth.strip() else None
    return headers, {"present": auth is not None, "scheme": scheme}


def describe_body(body: bytes) -> str:
    text = body[:MAX_BODY].decode("utf-8", errors="replace")
    return text + ("...[truncated]" if len(body) > MAX_BODY else "")


class RequestLog:
    """A bounded, thread-safe list of request entries (oldest first)."""

    def __init__(self, size: int = 200) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def start(self, entry: Entry) -> Entry:
        """Record a request as it arrives; returns the entry to `finish` later."""
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
        return entry

    def finish(self, entry: Entry, **updates: Any) -> None:
        with self._lock:
            entry.update(updates)

    def entries(self) -> list[Entry]:
        """A copy of the recorded entries, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._entries))

    def last(self) -> Entry | None:
        entries = self.entries()
        return entries[-1] if entries else None

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries())

    def __getitem__(self, index: int) -> Entry:
        return self.entries()[index]
