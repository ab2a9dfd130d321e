"""Child process of devtools.fhirclient_models: SMART's `fhirclient` as a third-party app reading one FHIR base.

Run as a script with the directory of one fhirclient release, then a JSON object on standard input (`base`,
`client_id`, `client_secret`, `tenant`, `patient`); prints one JSON report. It does what such an app does: reads
the base's metadata into its CapabilityStatement model, takes the token URL from the SMART oauth-uris extension,
gets a token with the client credentials grant, then reads and searches through the models (each answer parsed by
them, so anything outside the release's shapes raises). Nothing of the repository is imported.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

sys.path.insert(0, sys.argv[1])
logging.disable(logging.CRITICAL)

import requests  # noqa: E402
from fhirclient.models import bundle as bundle_model  # noqa: E402  (found through the path set above)
from fhirclient.models import condition, observation, patient  # noqa: E402
from fhirclient.server import FHIRServer  # noqa: E402

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def _token_url(server: Any) -> str:
    for extension in server.capabilityStatement.rest[0].security.extension or []:
        if extension.url == OAUTH_URIS:
            return next(e.valueUri for e in extension.extension if e.url == "token")
    raise LookupError("no oauth-uris token URL in the CapabilityStatement")


def read(arguments: dict[str, str]) -> dict[str, Any]:
    server = FHIRServer(None, base_uri=arguments["base"].rstrip("/") + "/")
    statement = server.capabilityStatement
    granted = requests.post(
        _token_url(server),
        data={
            "grant_type": "client_credentials",
            "client_id": arguments["client_id"],
            "client_secret": arguments["client_secret"],
            "scope": arguments["tenant"],
        },
        timeout=30,
    )
    granted.raise_for_status()
    server.session.headers["Authorization"] = "Bearer " + granted.json()["access_token"]
    person = patient.Patient.read(arguments["patient"], server)
    conditions = condition.Condition.where(struct={"patient": arguments["patient"]}).perform_resources(server)
    first = observation.Observation.where(struct={"patient": arguments["patient"], "_count": "2"}).perform(server)
    next_url = next((link.url for link in first.link or [] if link.relation == "next"), None)
    second = bundle_model.Bundle(server.request_json(next_url)) if next_url else None
    return {
        "fhirVersion": statement.fhirVersion,
        "statement": statement.resource_type,
        "patient_family": person.name[0].family,
        "conditions": len(conditions),
        "condition_clinical_status": conditions[0].clinicalStatus.coding[0].code if conditions else None,
        "full_urls": [entry.fullUrl for entry in first.entry or []],
        "next": next_url,
        "second_page_types": sorted({e.resource.resource_type for e in (second.entry or [])}) if second else [],
    }


try:
    print(json.dumps({"ok": read(json.loads(sys.stdin.read()))}), flush=True)
except Exception as failed:
    print(json.dumps({"error": f"{type(failed).__name__}: {failed}"[:4000]}), flush=True)
