"""The gateway's own CapabilityStatement (STU3/R4) or Conformance (DSTU2), with SMART oauth-uris."""

from __future__ import annotations

from typing import Any

from shared.fhir.versions import FhirVersion

OAUTH_URIS_EXTENSION = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SECURITY_SERVICE_SYSTEM = "http://hl7.org/fhir/restful-security-service"
PUBLISHED = "2026-11-22"

# The searches the Patients app sends, per resource type; DSTU2 orders medications, later versions request them.
_SEARCH_PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "Patient": (
        ("_id", "token"),
        ("identifier", "token"),
        ("family", "string"),
        ("given", "string"),
        ("name", "string"),
        ("birthdate", "date"),
        ("gender", "token"),
    ),
    "Observation": (("patient", "reference"), ("category", "token"), ("code", "token"), ("date", "date")),
    "Condition": (("patient", "reference"),),
    "Encounter": (("patient", "reference"), ("date", "date")),
    "AllergyIntolerance": (("patient", "reference"),),
    "MedicationOrder": (("patient", "reference"),),
    "MedicationRequest": (("patient", "reference"),),
    "Coverage": (("patient", "reference"), ("beneficiary", "reference")),
    "Location": (),
    "Practitioner": (),
}


def resource_types_for(version: FhirVersion) -> tuple[str, ...]:
    skip = "MedicationRequest" if version is FhirVersion.DSTU2 else "MedicationOrder"
    return tuple(t for t in _SEARCH_PARAMS if t != skip)


def _resource(resource_type: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": resource_type,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
    }
    params = _SEARCH_PARAMS[resource_type]
    if params:
        entry["searchParam"] = [{"name": name, "type": kind} for name, kind in params]
    return entry


def capability_statement(
    version: FhirVersion, fhir_base_url: str, token_url: str, authorize_url: str, introspect_url: str | None = None
) -> dict[str, Any]:
    """What the gateway serves, in the shape of the requested FHIR version."""
    security = {
        "extension": [
            {
                "url": OAUTH_URIS_EXTENSION,
                "extension": [
                    {"url": "token", "valueUri": token_url},
                    {"url": "authorize", "valueUri": authorize_url},
                    *([{"url": "introspect", "valueUri": introspect_url}] if introspect_url else []),
                ],
            }
        ],
        "service": [
            {
                "coding": [{"system": SECURITY_SERVICE_SYSTEM, "code": "OAuth"}],
                "text": "OAuth 2.0 client credentials",
            }
        ],
        "description": "Obtain a token at the token URL with the client credentials grant; "
        "scope is the Azure AD tenant ID, optionally with SMART system scopes beside it.",
    }
    rest = {
        "mode": "server",
        "security": security,
        "resource": [_resource(t) for t in resource_types_for(version)],
        "interaction": [{"code": "batch"}],
    }
    statement: dict[str, Any] = {
        "resourceType": "Conformance" if version is FhirVersion.DSTU2 else "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "FHIR interop gateway",
        "kind": "instance",
        "software": {"name": "FHIR interop gateway"},
        "implementation": {"description": "Multi-tenant FHIR gateway", "url": fhir_base_url},
        "fhirVersion": version.version_string,
        "format": ["json"],
        "rest": [rest],
    }
    if version is not FhirVersion.R4:
        statement["acceptUnknown"] = "no"
    return statement
