"""Batch Bundles POSTed to the base: GET entries answered in order; batch can be switched off."""

from __future__ import annotations

RUTH = "665677"


def batch(*requests: tuple[str, str]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": method, "url": url}} for method, url in requests],
    }


def test_batch_answers_every_get_in_order(stu3) -> None:
    response = stu3.post(
        "",
        json=batch(
            ("GET", f"Patient/{RUTH}"),
            ("GET", f"Observation?patient={RUTH}&category=vital-signs&_sort=-date&_count=3"),
            ("GET", f"Condition?patient={RUTH}&_count=10"),
            ("GET", "Patient/no-such-patient"),
            ("GET", f"Coverage?beneficiary={RUTH}"),
        ),
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    result = response.json()
    assert result["type"] == "batch-response" and len(result["entry"]) == 5
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["200 OK", "200 OK", "200 OK", "404 Not Found", "200 OK"]
    patient, vitals, conditions, missing, coverage = result["entry"]
    assert patient["resource"]["id"] == RUTH and patient["response"]["location"] == f"Patient/{RUTH}"
    assert vitals["resource"]["type"] == "searchset" and len(vitals["resource"]["entry"]) == 3
    assert vitals["resource"]["total"] > 3
    assert conditions["resource"]["entry"][0]["resource"]["resourceType"] == "Condition"
    assert missing["response"]["outcome"]["resourceType"] == "OperationOutcome" and "resource" not in missing
    assert coverage["resource"]["entry"][0]["resource"]["id"] == f"cov-{RUTH}"


def test_batch_entries_may_use_absolute_urls_on_the_server_base(stu3) -> None:
    result = stu3.post("", json=batch(("GET", f"{stu3.base}/Patient/{RUTH}"), ("GET", f"/Patient/{RUTH}"))).json()
    assert [e["response"]["status"] for e in result["entry"]] == ["200 OK", "200 OK"]
    foreign = stu3.post("", json=batch(("GET", "https://elsewhere.example/fhir/Patient/1"))).json()
    assert foreign["entry"][0]["response"]["status"].startswith("400")


def test_non_get_entries_get_an_error_entry_and_the_rest_still_run(stu3) -> None:
    result = stu3.post("", json=batch(("DELETE", f"Patient/{RUTH}"), ("GET", f"Patient/{RUTH}"))).json()
    assert result["entry"][0]["response"]["status"] == "405 Method Not Allowed"
    assert result["entry"][1]["resource"]["id"] == RUTH


def test_dstu2_error_entries_carry_the_outcome_as_the_resource(dstu2) -> None:
    result = dstu2.post("", json=batch(("GET", "Patient/nobody"), ("GET", f"MedicationOrder?patient={RUTH}"))).json()
    missing, meds = result["entry"]
    assert missing["response"] == {"status": "404 Not Found"}
    assert missing["resource"]["resourceType"] == "OperationOutcome"
    assert meds["resource"]["entry"][0]["resource"]["resourceType"] == "MedicationOrder"


def test_transactions_and_non_bundles_are_rejected(stu3) -> None:
    transaction = {**batch(("GET", "Patient/1")), "type": "transaction"}
    assert stu3.post("", json=transaction).status_code == 400
    assert stu3.post("", json={"resourceType": "Patient"}).status_code == 400
    assert stu3.post("", data=b"{not json", headers={"Content-Type": "application/fhir+json"}).status_code == 400


def test_batch_disabled_answers_405_and_is_not_advertised(make_sandbox) -> None:
    client = make_sandbox(batch_enabled=False)
    response = client.post("", json=batch(("GET", f"Patient/{RUTH}")))
    assert response.status_code == 405 and response.json()["resourceType"] == "OperationOutcome"
    assert "interaction" not in client.get("metadata").json()["rest"][0]


def test_batch_enabled_is_advertised_in_metadata(stu3, dstu2) -> None:
    for client in (stu3, dstu2):
        assert client.get("metadata").json()["rest"][0]["interaction"] == [{"code": "batch"}]
