"""Batch Bundles: run each GET entry in order and answer a batch-response Bundle."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from .outcome import FhirError
from .search import now_instant
from .versions import Flavour

# get(url) -> (status, resource, location or None, log info or None); may raise FhirError.
Getter = Callable[[str], tuple[int, dict[str, Any], str | None, dict[str, Any] | None]]


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def check_batch(bundle: Any) -> list[Any]:
    """The entries of a batch Bundle; 400 for anything that is not one."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(400, "POST to the base expects a Bundle", "invalid")
    if bundle.get("type") != "batch":
        raise FhirError(400, f"Only Bundle.type batch is supported, got {bundle.get('type')!r}", "not-supported")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError(400, "Bundle.entry must be a list", "invalid")
    return entries


def run_batch(bundle: Any, flavour: Flavour, get: Getter) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch-response Bundle (one entry per request, in order) and a log line per entry."""
    out_entries, log = [], []
    for entry in check_batch(bundle):
        request = entry.get("request") if isinstance(entry, dict) else None
        method = str((request or {}).get("method", "")).upper()
        url = str((request or {}).get("url", ""))
        info = None
        try:
            if not request or not url:
                raise FhirError(400, "Batch entry without request.method and request.url", "invalid")
            if method != "GET":
                raise FhirError(405, f"Batch entries must be GET requests, got {method or 'none'}", "not-supported")
            status, resource, location, info = get(url)
            response: dict[str, Any] = {"status": status_line(status)}
            if location:
                response["location"] = location
            out = {"resource": resource, "response": response}
        except FhirError as err:
            status = err.status
            if flavour.stu3:
                out = {"response": {"status": status_line(status), "outcome": err.outcome()}}
            else:  # DSTU2's entry.response has no `outcome`: the OperationOutcome is the entry's resource.
                out = {"resource": err.outcome(), "response": {"status": status_line(status)}}
        out_entries.append(out)
        log.append({"method": method, "url": url, "status": status, "search": info})
    response_bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": now_instant()},
        "type": "batch-response",
        "entry": out_entries,
    }
    return response_bundle, log


def batch_disabled() -> FhirError:
    return FhirError(405, "Batch is not enabled on this server", "not-supported")
