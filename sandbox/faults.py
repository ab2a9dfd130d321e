"""Fault injection: delays, error statuses, non-FHIR or broken bodies and dropped connections."""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

INVALID_JSON = '{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": '


@dataclass
class Fault:
    """What to do to the next `times` FHIR requests whose path and query contain `match`.

    times=None applies until cleared. Effects combine: delay first, then the answer
    (status / body / invalid JSON / connection reset), else the normal answer.
    """

    status: int | None = None
    retry_after: int | str | None = None
    delay_ms: int = 0
    body: str | None = None
    body_encoding: str = "utf-8"  # e.g. "utf-16", for a provider that answers JSON in another encoding
    content_type: str | None = None
    invalid_json: bool = False
    reset: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1
    match: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise ValueError(f"status must be an HTTP status code, got {self.status!r}")
        if not isinstance(self.delay_ms, int) or self.delay_ms < 0:
            raise ValueError("delay_ms must be a non-negative integer")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise ValueError("times must be a positive integer or null (until cleared)")
        if not isinstance(self.headers, dict):
            raise ValueError("headers must be an object")

    @property
    def answers(self) -> bool:
        """True when the fault replaces the normal answer (not just delays it)."""
        return bool(self.status or self.body is not None or self.invalid_json or self.reset)


class FaultControl:
    """Pending faults, taken in order by the requests they match."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, **options: Any) -> Fault:
        """Queue a fault, e.g. add(status=503, retry_after=1, times=2) or add(delay_ms=500)."""
        unknown = set(options) - set(Fault.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault options: {sorted(unknown)}")
        fault = Fault(**options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, target: str) -> Fault | None:
        """The first pending fault matching `target` (path?query); consumes one of its `times`."""
        with self._lock:
            for fault in self._faults:
                if fault.match is None or fault.match in target:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return copy.copy(fault)
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count
