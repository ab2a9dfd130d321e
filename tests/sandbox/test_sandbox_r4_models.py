"""The R4 flavour: every resource validates against fhir.resources' R4B models, in R4 shapes and code systems."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from sandbox_http_client import Client

from sandbox.app import create_app
from sandbox.server import serve_in_thread
from sandbox.store import get_store
from sandbox.versions import R4

RUTH = "665677"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"


@pytest.fixture(scope="module")
def r4() -> Iterator[Client]:
    handle = serve_in_thread(create_app("R4", base_path="/r4", strict=True))
    yield Client(handle)
    handle.stop()


def model(rtype: str) -> Any:
    return getattr(importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype)


def test_every_r4_resource_of_every_type_validates() -> None:
    store = get_store(None, R4)
    for rtype, items in store.by_type.items():
        assert items, rtype
        for item in items.values():
            model(rtype).model_validate(item.build())


def test_r4_capability_statement(r4: Client) -> None:
    statement = r4.get("metadata").json()
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1" and "acceptUnknown" not in statement


def test_r4_shapes_and_searches(r4: Client) -> None:
    condition = r4.search("Condition", patient=RUTH, **{"recorded-date": "ge1900"})
    Bundle.model_validate(condition)
    first = condition["entry"][0]["resource"]
    assert first["clinicalStatus"]["coding"][0]["system"] == TERMINOLOGY + "condition-clinical"
    assert "recordedDate" in first and "assertedDate" not in first
    med = r4.search("MedicationRequest", patient=RUTH, _count=1)["entry"][0]["resource"]
    assert med["requester"] == {"reference": "Practitioner/72080416", "display": "Dr. Joseph Nichols"}
    coverage = r4.search("Coverage", patient=RUTH)["entry"][0]["resource"]
    assert [c["type"]["coding"][0]["code"] for c in coverage["class"]] == ["group", "plan"]
    ruth = r4.get(f"Patient/{RUTH}").json()
    assert ruth["identifier"][0]["type"]["coding"][0]["system"] == TERMINOLOGY + "v2-0203"
    vitals = r4.search("Observation", patient=RUTH, category="vital-signs", _count=1)["entry"][0]["resource"]
    assert vitals["category"][0]["coding"][0]["system"] == TERMINOLOGY + "observation-category"
    assert "encounter" in vitals and "context" not in vitals
