"""Runs a batch Bundle's entries as separate reads, a few at a time, for providers without batch support."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from http import HTTPStatus
from typing import Any

from shared import process_state, settings
from shared.fhir.operation_outcome import IssueType, operation_outcome
from shared.fhir.versions import FhirVersion
from shared.proxy.errors import BatchAnswerTooLarge
from shared.proxy.failures import ANSWERED, refusal
from shared.proxy.read_policy import BatchEntry

log = logging.getLogger(__name__)

POOL_THREADS = 32  # shared by every batch of this instance, so one slow provider cannot take all of them
# Entries not started by then are answered 504 without being sent: the HTTP trigger stops at 230 s, and
# 30 s (upstream token) + 50 s (capabilities) + 60 s + 1 s (tenant slot) + 50 s (last entry) = 191 s.
DEADLINE_SECONDS = 60.0

# One entry's answer: HTTP status, the FHIR document (links already rewritten) or None, response headers.
EntryAnswer = tuple[int, Any, dict[str, str]]
RunEntry = Callable[[BatchEntry], EntryAnswer]

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    """The process-wide fan-out threads, created on first use."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="batch-fanout")
    return _pool


def _drop_pool() -> None:
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=False)


process_state.register("proxy.batch_fanout_pool", _drop_pool)


class AnswerBudget:
    """The combined size the entries' answers may reach (BATCH_MAX_ANSWER_BYTES). Once an answer would
    pass it, that entry and every entry not yet sent are answered 502 too-costly instead."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._spent = 0
        self._exhausted = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> AnswerBudget:
        return cls(settings.current().batch_max_answer_bytes)

    def _refusal(self) -> BatchAnswerTooLarge:
        return BatchAnswerTooLarge(
            f"the batch's combined answer would exceed {self.limit} bytes; this entry was left out (send it on its own)"
        )

    def before_send(self) -> None:
        if self._exhausted:
            raise self._refusal()

    def spend(self, size: int) -> None:
        with self._lock:
            if self._exhausted or self._spent + size > self.limit:
                self._exhausted = True
                raise self._refusal()
            self._spent += size


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def failed_entry(version: FhirVersion, status: int, outcome: dict[str, Any]) -> dict[str, Any]:
    """A batch-response entry for a failed request, in the version's place for the OperationOutcome."""
    if version is FhirVersion.DSTU2:  # DSTU2's entry.response has no `outcome`: the outcome is the entry's resource
        return {"resource": outcome, "response": {"status": status_line(status)}}
    return {"response": {"status": status_line(status), "outcome": outcome}}


def _answered_entry(version: FhirVersion, answer: EntryAnswer) -> dict[str, Any]:
    status, document, headers = answer
    if status >= 400:
        if not (isinstance(document, dict) and document.get("resourceType") == "OperationOutcome"):
            document = operation_outcome(IssueType.EXCEPTION, f"the provider answered HTTP {status}")
        return failed_entry(version, status, document)
    response: dict[str, Any] = {"status": status_line(status)}
    lowered = {name.lower(): value for name, value in headers.items()}
    for header, element in (("etag", "etag"), ("last-modified", "lastModified"), ("location", "location")):
        if header in lowered:
            response[element] = lowered[header]
    return {"resource": document, "response": response} if document is not None else {"response": response}


def _run_one(entry: BatchEntry, run_entry: RunEntry, version: FhirVersion) -> dict[str, Any]:
    try:
        return _answered_entry(version, run_entry(entry))
    except ANSWERED as error:  # the proxy's refusals and the domain errors of its table, as the boundary answers them
        refused = refusal(error)
        return failed_entry(version, refused.status_code, operation_outcome(refused.issue_type, refused.message))
    except Exception:  # one entry's bug must not cost the other entries their answers
        log.exception("batch entry %s failed in the gateway", entry.path.relative())
        return failed_entry(version, 500, operation_outcome(IssueType.EXCEPTION, "the gateway failed on this entry"))


def run_batch(
    entries: Sequence[BatchEntry],
    run_entry: RunEntry,
    version: FhirVersion,
    concurrency: int | None = None,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> dict[str, Any]:
    """The batch-response Bundle: one entry per request, in request order, each with its own status."""
    if concurrency is None:
        concurrency = settings.current().batch_fanout_concurrency
    answers: list[dict[str, Any] | None] = [None] * len(entries)
    in_flight: dict[Future[dict[str, Any]], int] = {}
    started = time.monotonic()
    next_index = 0
    while next_index < len(entries) or in_flight:
        while next_index < len(entries) and len(in_flight) < max(1, concurrency):
            if time.monotonic() - started > deadline_seconds:
                answers[next_index] = failed_entry(
                    version,
                    504,
                    operation_outcome(IssueType.TIMEOUT, "not sent: the batch ran out of time before this entry"),
                )
            else:
                in_flight[pool().submit(_run_one, entries[next_index], run_entry, version)] = next_index
            next_index += 1
        if in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                answers[in_flight.pop(future)] = future.result()
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "batch-response",
        "entry": answers,
    }
