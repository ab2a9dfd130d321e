"""Fault injection through POST /_sandbox/faults and app.faults: statuses, delays, bad bodies, resets."""

from __future__ import annotations

import time

import pytest
import requests

RUTH = "665677"


def test_503_with_retry_after_for_the_next_two_requests(make_sandbox) -> None:
    client = make_sandbox()
    assert client.control("POST", "faults", json={"status": 503, "retry_after": 1, "times": 2}).status_code == 201
    for _ in range(2):
        response = client.get(f"Patient/{RUTH}")
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"Patient/{RUTH}").status_code == 200
    assert client.control("GET", "faults").json() == {"faults": []}
    logged = [e.get("fault", {}).get("status") for e in client.handle.app.request_log]
    assert logged == [503, 503, None]


def test_429_once(make_sandbox) -> None:
    client = make_sandbox()
    client.control("POST", "faults", json={"status": 429, "retry_after": "2"})
    assert client.get("metadata").status_code == 429
    assert client.get("metadata").status_code == 200


def test_delay_slows_the_answer_down(make_sandbox) -> None:
    client = make_sandbox()
    client.control("POST", "faults", json={"delay_ms": 400})
    started = time.perf_counter()
    response = client.get(f"Patient/{RUTH}")
    assert response.status_code == 200 and time.perf_counter() - started >= 0.4
    started = time.perf_counter()
    client.get(f"Patient/{RUTH}")
    assert time.perf_counter() - started < 0.4


def test_html_instead_of_fhir(make_sandbox) -> None:
    client = make_sandbox()
    html = "<html><body>Gateway Timeout</body></html>"
    client.control("POST", "faults", json={"status": 504, "body": html, "content_type": "text/html"})
    response = client.get(f"Patient/{RUTH}")
    assert response.status_code == 504 and response.headers["Content-Type"] == "text/html"
    assert response.text == html


def test_invalid_json_with_a_fhir_content_type(make_sandbox) -> None:
    client = make_sandbox()
    client.handle.app.faults.add(invalid_json=True)
    response = client.get("Patient", params={"given": "ruth"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/fhir+json")
    with pytest.raises(ValueError):
        response.json()


def test_connection_reset_mid_body(make_sandbox) -> None:
    client = make_sandbox()
    client.control("POST", "faults", json={"reset": True})
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        client.get("Patient", params={"_count": "50"})
    assert client.get(f"Patient/{RUTH}").status_code == 200


def test_match_limits_a_fault_to_some_requests(make_sandbox) -> None:
    client = make_sandbox()
    client.control("POST", "faults", json={"status": 500, "match": "/Observation", "times": None})
    assert client.get(f"Patient/{RUTH}").status_code == 200
    for _ in range(3):
        assert client.get("Observation", params={"patient": RUTH}).status_code == 500
    assert client.control("DELETE", "faults").json() == {"cleared": 1}
    assert client.get("Observation", params={"patient": RUTH}).status_code == 200


def test_faults_apply_before_auth_and_control_paths_are_never_faulted(make_sandbox) -> None:
    client = make_sandbox(required_bearer_token="t")
    client.control("POST", "faults", json=[{"status": 503}, {"status": 502}])
    assert client.control("GET", "requests").status_code == 200
    assert client.get(f"Patient/{RUTH}").status_code == 503
    assert client.get(f"Patient/{RUTH}").status_code == 502
    assert client.get(f"Patient/{RUTH}").status_code == 401


def test_bad_fault_specs_answer_400(make_sandbox) -> None:
    client = make_sandbox()
    assert client.control("POST", "faults", json={"status": 42}).status_code == 400
    assert client.control("POST", "faults", json={"explode": True}).status_code == 400
    assert client.control("POST", "faults", json={"times": 0}).status_code == 400
    assert client.control("POST", "faults", data=b"not json").status_code == 400
    assert client.control("GET", "faults").json() == {"faults": []}
