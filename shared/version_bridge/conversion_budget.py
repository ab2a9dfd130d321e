"""What translating one provider answer may produce and spend: bytes written, values moved into extensions, time.

A provider controls the size and shape of what the bridge converts; without these caps a 2 MB answer became
93 MB and took the process's CPU for seconds. Past a cap the answer is refused (a 502 with an
OperationOutcome); the counters are what tests read, so bounds are asserted as counted work, not as time.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# The translated answer may be this many times the provider's, and at least MIN_ANSWER_CAP_BYTES; the
# cross-version extensions a real conversion adds stay well under 2x.
GROWTH_FACTOR = 4
MIN_ANSWER_CAP_BYTES = 1024 * 1024
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Values (each scalar, object and array) one answer may carry in cross-version extensions: this many, and one
# more per EXTENSION_VALUE_BYTES of the provider's answer. An element the target version lacks holds a
# handful; each value becomes an extension of about 100 bytes.
MAX_EXTENSION_VALUES = 10_000
EXTENSION_VALUE_BYTES = 64
# Wall time one answer's conversion may take (the 4.8 MB Bundle takes about 0.15 s).
TIME_BUDGET_SECONDS = 5.0
# Large answers are read, filtered and translated one at a time per process, and a translation gives up the
# interpreter between entries, so a hostile provider's answers cannot take the CPU from other tenants' requests.
LARGE_ANSWER_BYTES = 256 * 1024
_LARGE_CONVERSIONS = threading.BoundedSemaphore(1)
LARGE_WAIT_SECONDS = TIME_BUDGET_SECONDS
YIELD_EVERY_ENTRIES = 32


class OverBudget(Exception):
    """The conversion would exceed one of its caps; the message names which, safe to show."""


class ConversionsBusy(Exception):
    """Another large answer is being translated on this instance and did not finish in time: retry shortly."""


@dataclass
class Budget:
    """The caps of one answer's conversion and what it has used so far."""

    input_bytes: int
    started: float = field(default_factory=time.monotonic)
    extension_values: int = 0
    entries: int = 0

    @property
    def extension_cap(self) -> int:
        return MAX_EXTENSION_VALUES + self.input_bytes // EXTENSION_VALUE_BYTES

    @property
    def answer_cap(self) -> int:
        return min(MAX_ANSWER_BYTES, max(MIN_ANSWER_CAP_BYTES, GROWTH_FACTOR * self.input_bytes))

    def check_written(self, written: int) -> None:
        if written > self.answer_cap:
            raise OverBudget(
                f"the translated answer would exceed {self.answer_cap} bytes ({GROWTH_FACTOR}x the provider's)"
            )

    def check_time(self) -> None:
        if time.monotonic() - self.started > TIME_BUDGET_SECONDS:
            raise OverBudget(f"translating the provider's answer would take more than {TIME_BUDGET_SECONDS:g} s")

    def entry_done(self, written: int) -> None:
        """After each Bundle entry: the running size and time checked, and other threads let run."""
        self.entries += 1
        self.check_written(written)
        if self.entries % YIELD_EVERY_ENTRIES == 0:
            self.check_time()
            time.sleep(0)  # gives up the GIL: a waiting request of another tenant runs now, not in 5 ms

    def move_to_extensions(self, value: Any) -> None:
        """Counts the values of an element about to be kept in extensions; OverBudget past the cap."""
        count = _values_within(value, self.extension_cap - self.extension_values)
        if count is None:
            raise OverBudget(
                f"translating the provider's answer would need more than {self.extension_cap} values "
                "in cross-version extensions"
            )
        self.extension_values += count


def _values_within(value: Any, cap: int) -> int | None:
    """How many values (scalars, objects, arrays) `value` holds; None as soon as they exceed `cap`, before a large
    array is looked at value by value."""
    stack, count = [value], 0
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict | list):
            members = item.values() if isinstance(item, dict) else item
            if count + len(members) > cap:  # each member is at least one value
                return None
            containers = [member for member in members if isinstance(member, dict | list)]
            count += len(members) - len(containers)  # the scalars now, the containers when they are popped
            stack.extend(containers)
        if count > cap:
            return None
    return count


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("conversion_budget", default=None)


def current() -> Budget | None:
    """The budget of the conversion running in this context (None outside the proxy, e.g. in unit tests)."""
    return _current.get()


@contextmanager
def spending(input_bytes: int) -> Iterator[Budget]:
    """A budget for one answer's conversion, current in this context while it runs."""
    budget = Budget(input_bytes)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


@contextmanager
def large_answer_slot(body_bytes: int) -> Iterator[None]:
    """Holds the instance's one slot for reading, filtering and translating a large answer (LARGE_ANSWER_BYTES
    or more); smaller answers pass at once. ConversionsBusy when the slot stays taken LARGE_WAIT_SECONDS."""
    if body_bytes < LARGE_ANSWER_BYTES:
        yield
        return
    if not _LARGE_CONVERSIONS.acquire(timeout=LARGE_WAIT_SECONDS):
        raise ConversionsBusy("the gateway is processing other large answers; retry shortly")
    try:
        yield
    finally:
        _LARGE_CONVERSIONS.release()
