"""HTTP behaviour: reads, 404s, JSON-only negotiation, media types, base path, advertised base and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

RUTH = "665677"
REPO = Path(__file__).resolve().parents[2]


def test_read_answers_the_resource_with_fhir_json(stu3, dstu2) -> None:
    response = stu3.get(f"Patient/{RUTH}")
    assert response.status_code == 200 and response.json()["id"] == RUTH
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert response.headers["ETag"] == 'W/"1"'
    assert dstu2.get(f"Patient/{RUTH}").headers["Content-Type"] == "application/json+fhir; charset=utf-8"


def test_every_served_type_can_be_read(stu3) -> None:
    for ref in (
        "Practitioner/72080416",
        "Location/loc-1",
        "Encounter/enc-827",
        "Observation/vs-827-bp",
        "Observation/lab-837",
        "Condition/cond-1",
        "MedicationRequest/med-12",
        f"Coverage/cov-{RUTH}",
        "AllergyIntolerance/allergy-2",
    ):
        assert stu3.get(ref).status_code == 200, ref


def test_unknown_ids_and_types_answer_404_operation_outcome(stu3) -> None:
    for rel in ("Patient/nobody", "MedicationOrder/med-12", "Binary/1", "Patient/1/_history/1"):
        response = stu3.get(rel)
        assert response.status_code == 404, rel
        assert response.json()["resourceType"] == "OperationOutcome"


def test_allergy_negatives_are_not_served(stu3) -> None:
    assert stu3.get("AllergyIntolerance/allergy-1").status_code == 404
    assert stu3.search("AllergyIntolerance", patient="613876")["total"] == 0


def test_xml_requests_answer_406(stu3) -> None:
    for params, headers in (
        ({"_format": "xml"}, {}),
        ({"_format": "application/fhir+xml"}, {}),
        ({}, {"Accept": "application/fhir+xml"}),
        ({}, {"Accept": "application/xml+fhir, text/xml;q=0.5"}),
    ):
        response = stu3.get(f"Patient/{RUTH}", params=params, headers=headers)
        assert response.status_code == 406, (params, headers)
        assert response.json()["resourceType"] == "OperationOutcome"
    for accept in ("application/json", "application/fhir+xml, application/fhir+json", "*/*", "text/html, */*"):
        assert stu3.get(f"Patient/{RUTH}", headers={"Accept": accept}).status_code == 200, accept
    assert stu3.get(f"Patient/{RUTH}", params={"_format": "json"}).status_code == 200


def test_writes_answer_405(stu3) -> None:
    assert stu3.request("PUT", f"Patient/{RUTH}", json={"resourceType": "Patient"}).status_code == 405
    assert stu3.request("DELETE", f"Patient/{RUTH}").status_code == 405
    assert stu3.post("Patient", json={"resourceType": "Patient"}).status_code == 405


def test_base_path_is_configurable_and_nothing_is_served_outside_it(dstu2) -> None:
    assert dstu2.base.endswith("/baseDstu2")
    assert dstu2.get(f"Patient/{RUTH}").status_code == 200
    outside = requests.get(f"{dstu2.handle.root_url}/fhir/Patient/{RUTH}", timeout=10)
    assert outside.status_code == 404 and outside.json()["resourceType"] == "OperationOutcome"


def test_root_base_path(make_sandbox) -> None:
    client = make_sandbox(base_path="/")
    assert client.base == client.handle.root_url
    assert client.get(f"Patient/{RUTH}").status_code == 200
    assert client.control("GET", "info").json()["base_path"] == "/"


def test_links_use_the_request_host_by_default(stu3) -> None:
    bundle = stu3.search("Patient", _count=1)
    assert all(
        link["url"].startswith(stu3.base + "?") or link["url"].startswith(stu3.base + "/") for link in bundle["link"]
    )


def test_advertised_public_base_is_used_verbatim_for_links_and_full_urls(make_sandbox) -> None:
    client = make_sandbox(public_base="HTTP://Provider.Example:80/FHIR/", paging="offset")
    bundle = client.search("Patient", _count=2)
    assert bundle["entry"][0]["fullUrl"].startswith("HTTP://Provider.Example:80/FHIR/Patient/")
    links = {link["relation"]: link["url"] for link in bundle["link"]}
    assert links["self"] == "HTTP://Provider.Example:80/FHIR/Patient?_count=2"
    assert links["next"] == "HTTP://Provider.Example:80/FHIR/Patient?_count=2&_offset=2"
    assert client.get("metadata").json()["implementation"]["url"] == "HTTP://Provider.Example:80/FHIR"


def test_info_reports_the_instance(make_sandbox) -> None:
    client = make_sandbox(flavour="DSTU2", batch_enabled=False, strict=True)
    info = client.control("GET", "info").json()
    assert info["flavour"] == "DSTU2" and info["batch_enabled"] is False and info["strict"] is True
    assert info["counts"]["Patient"] == 67 and info["counts"]["MedicationOrder"] == 363


def test_cli_prints_where_it_serves_and_answers(tmp_path: Path) -> None:
    env = {**os.environ, "SANDBOX_TOKEN": "cli-token"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--flavour",
            "DSTU2",
            "--port",
            "0",
            "--base-path",
            "/baseDstu2",
            "--require-bearer-token-env",
            "SANDBOX_TOKEN",
            "--no-batch",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Sandbox DSTU2 FHIR server at http://127.0.0.1:") and line.endswith("(67 patients)")
        base = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert base.endswith("/baseDstu2")
        assert requests.get(f"{base}/Patient/{RUTH}", timeout=10).status_code == 401
        ok = requests.get(f"{base}/Patient/{RUTH}", headers={"Authorization": "Bearer cli-token"}, timeout=10)
        assert ok.status_code == 200 and ok.json()["name"][0]["family"] == ["Black"]
        assert "interaction" not in requests.get(f"{base}/metadata", timeout=10).json()["rest"][0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_long_continuation_state_is_written_in_page_links_and_must_come_back_unchanged(make_sandbox) -> None:
    client = make_sandbox(paging="offset", continuation_bytes=6144)
    first = client.search("Patient", _count=3)
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert len(next_url) > 6144 and "&ct=" in next_url
    second = client.get(next_url)
    assert second.status_code == 200 and second.json()["entry"][0]["resource"]["id"] not in {
        entry["resource"]["id"] for entry in first["entry"]
    }
    assert client.get(next_url[:-10]).status_code == 400  # cut on the way
    assert client.get(next_url.split("&ct=")[0]).status_code == 400  # dropped on the way
