"""The metadata answer: R4/STU3 CapabilityStatement or DSTU2 Conformance built from the search tables."""

from __future__ import annotations

from typing import Any

from .search import search_params
from .versions import Flavour

RELEASE_DATE = "2015-01-01"


def capability_statement(
    flavour: Flavour, *, base: str, batch_enabled: bool, security: list[str] | None = None
) -> dict[str, Any]:
    """What this sandbox instance can do; `batch` is listed only when batch is enabled."""
    params = search_params(flavour)
    resources = [
        {
            "type": rtype,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": name, "type": p.kind} for name, p in sorted(params[rtype].items())],
        }
        for rtype in flavour.resource_types
    ]
    rest: dict[str, Any] = {"mode": "server", "resource": resources}
    if batch_enabled:
        # STU3's value set has `batch`; DSTU2's lists only `transaction` but the app looks for `batch`.
        rest["interaction"] = [{"code": "batch"}]
    security_system = (
        "http://terminology.hl7.org/CodeSystem/restful-security-service"
        if flavour.r4
        else "http://hl7.org/fhir/restful-security-service"
    )
    if security:
        rest["security"] = {"service": [{"coding": [{"system": security_system, "code": code}]} for code in security]}
    statement: dict[str, Any] = {
        "resourceType": flavour.capability_type,
        "status": "active",
        "date": RELEASE_DATE,
        "publisher": "FHIR interop gateway sandbox",
        "kind": "instance",
        "software": {"name": f"sandbox-{flavour.name.lower()}"},
        "implementation": {"description": f"Sandbox {flavour.name} FHIR server (SMART sample patients)", "url": base},
        "fhirVersion": flavour.fhir_version,
        "acceptUnknown": "both",
        "format": ["json"],
        "rest": [rest],
    }
    if flavour.r4:  # R4 dropped acceptUnknown
        del statement["acceptUnknown"]
    return statement
