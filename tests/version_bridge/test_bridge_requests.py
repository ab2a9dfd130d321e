"""Planned requests translated for the provider: paths, queries, forms, batch entries, refusals."""

from __future__ import annotations

import pytest

from shared.fhir.versions import FhirVersion
from shared.proxy.bridging import translate_request
from shared.proxy.errors import ProxyError
from shared.proxy.fhir_path import FhirPath, Interaction
from shared.proxy.read_policy import BatchEntry, PlannedRequest
from shared.version_bridge.summary import bridge_summary


@pytest.fixture(autouse=True)
def announced_stu3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "STU3")


def test_a_search_and_its_form_reach_a_dstu2_provider_in_dstu2_words() -> None:
    plan = PlannedRequest(
        "POST",
        FhirPath(Interaction.SEARCH_POST, "MedicationRequest"),
        [("_count", "5")],
        form=[("patient", "1"), ("authoredon", "ge2020")],
    )
    translated = translate_request(FhirVersion.DSTU2, FhirVersion.STU3, plan)
    assert translated.path.relative() == "MedicationOrder/_search"
    assert translated.form == [("patient", "1"), ("datewritten", "ge2020")]
    assert translated.query == [("_count", "5")]


def test_every_batch_entry_is_translated() -> None:
    plan = PlannedRequest(
        "POST",
        FhirPath(Interaction.BATCH),
        [],
        batch=(
            BatchEntry(FhirPath(Interaction.READ, "MedicationRequest", "m1"), []),
            BatchEntry(FhirPath(Interaction.SEARCH, "Condition"), [("patient", "1"), ("asserted-date", "ge2000")]),
        ),
    )
    translated = translate_request(FhirVersion.R4, FhirVersion.STU3, plan)
    assert [e.url() for e in translated.batch] == ["MedicationRequest/m1", "Condition?patient=1&recorded-date=ge2000"]
    dstu2 = translate_request(FhirVersion.DSTU2, FhirVersion.STU3, plan)
    assert [e.url() for e in dstu2.batch] == ["MedicationOrder/m1", "Condition?patient=1&date-recorded=ge2000"]


def test_same_version_is_left_alone() -> None:
    plan = PlannedRequest("GET", FhirPath(Interaction.SEARCH, "Condition"), [("asserted-date", "x")])
    assert translate_request(FhirVersion.STU3, FhirVersion.STU3, plan) is plan
    assert bridge_summary(FhirVersion.STU3, FhirVersion.STU3).startswith("none needed")


def test_a_type_without_converter_is_not_supported() -> None:
    plan = PlannedRequest("GET", FhirPath(Interaction.SEARCH, "Appointment"), [("patient", "1")])
    with pytest.raises(ProxyError) as refused:
        translate_request(FhirVersion.R4, FhirVersion.STU3, plan)
    assert refused.value.status_code == 501 and refused.value.issue_type.value == "not-supported"
    assert "Appointment" in refused.value.message


def test_a_parameter_without_equivalent_is_a_400_naming_it() -> None:
    plan = PlannedRequest(
        "POST",
        FhirPath(Interaction.BATCH),
        [],
        batch=(BatchEntry(FhirPath(Interaction.SEARCH, "Coverage"), [("beneficiary", "1")]),),
    )
    with pytest.raises(ProxyError) as refused:
        translate_request(FhirVersion.DSTU2, FhirVersion.STU3, plan)
    assert refused.value.status_code == 400
    assert refused.value.message.startswith("batch entry 0: search parameter 'beneficiary' of Coverage")


def test_the_debug_log_names_types_and_parameters_never_values(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG, logger="shared.proxy.bridging")
    plan = PlannedRequest("GET", FhirPath(Interaction.SEARCH, "MedicationRequest"), [("authoredon", "ge1951-08-23")])
    translate_request(FhirVersion.DSTU2, FhirVersion.STU3, plan)
    assert "version bridge STU3 -> DSTU2: MedicationRequest?authoredon -> MedicationOrder?datewritten" in caplog.text
    assert "1951" not in caplog.text
