"""The request log: what the provider received, in process and at GET/DELETE /_sandbox/requests."""

from __future__ import annotations

RUTH = "665677"


def test_log_records_method_path_query_and_headers_without_authorization_values(make_sandbox) -> None:
    client = make_sandbox()
    client.get(
        "Observation",
        params={"patient": RUTH, "_sort": "-date", "_count": "2"},
        headers={"Authorization": "Bearer top-secret", "X-Request-Id": "abc-123", "Accept": "application/fhir+json"},
    )
    entry = client.handle.app.request_log[-1]
    assert entry["method"] == "GET" and entry["path"] == "/fhir/Observation"
    assert entry["query_string"] == "patient=665677&_sort=-date&_count=2"
    assert entry["query"] == [["patient", RUTH], ["_sort", "-date"], ["_count", "2"]]
    assert entry["headers"]["X-Request-Id"] == "abc-123" and entry["headers"]["Accept"] == "application/fhir+json"
    assert "Authorization" not in entry["headers"]
    assert "top-secret" not in repr(entry)
    assert entry["authorization"] == {"present": True, "scheme": "Bearer"}
    assert entry["status"] == 200 and entry["interaction"] == "search-type"
    assert entry["search"]["sort"] == {"spelling": "_sort=-date", "fields": [["date", "desc"]]}


def test_log_records_which_sort_spelling_and_which_parameters_were_ignored(make_sandbox) -> None:
    client = make_sandbox()
    client.get("Observation", params={"patient": RUTH, "_sort:desc": "date", "sort:desc": "date", "id": "x"})
    search = client.handle.app.request_log.last()["search"]
    assert search["sort"]["spelling"] == "_sort:desc=date"
    assert search["applied"] == [["patient", RUTH]]
    assert search["ignored"] == [["sort:desc", "date"], ["id", "x"]]


def test_log_records_form_bodies_and_batch_entries(make_sandbox) -> None:
    client = make_sandbox()
    client.post("Patient/_search", data={"family:contains": "lac"})
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{RUTH}"}},
            {"request": {"method": "GET", "url": f"Encounter?patient={RUTH}&_sort:desc=date&_count=1"}},
        ],
    }
    client.post("", json=batch)
    search_entry, batch_entry = client.handle.app.request_log.entries()
    assert search_entry["body"] == "family%3Acontains=lac"
    assert search_entry["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert search_entry["authorization"] == {"present": False, "scheme": None}
    assert batch_entry["interaction"] == "batch"
    urls = [e["url"] for e in batch_entry["batch"]]
    assert urls == [f"Patient/{RUTH}", f"Encounter?patient={RUTH}&_sort:desc=date&_count=1"]
    assert batch_entry["batch"][1]["search"]["search"]["sort"]["spelling"] == "_sort:desc=date"


def test_log_is_served_over_http_and_can_be_cleared(make_sandbox) -> None:
    client = make_sandbox()
    client.get(f"Patient/{RUTH}")
    client.get("Patient/nobody")
    logged = client.control("GET", "requests").json()["requests"]
    assert [(e["path"], e["status"]) for e in logged] == [(f"/fhir/Patient/{RUTH}", 200), ("/fhir/Patient/nobody", 404)]
    assert logged[0]["seq"] < logged[1]["seq"]
    assert client.control("DELETE", "requests").json() == {"cleared": 2}
    assert client.control("GET", "requests").json() == {"requests": []}
    assert len(client.handle.app.request_log) == 0


def test_log_keeps_only_the_last_n_requests(make_sandbox) -> None:
    client = make_sandbox(request_log_size=3)
    for n in range(5):
        client.get(f"Patient/{RUTH}", params={"n": str(n)})
    assert [e["query_string"] for e in client.handle.app.request_log] == ["n=2", "n=3", "n=4"]


def test_401_and_404_requests_are_logged_too(make_sandbox) -> None:
    client = make_sandbox(required_bearer_token="t")
    client.get(f"Patient/{RUTH}")
    client.get(f"{client.handle.root_url}/elsewhere")
    statuses = [(e["path"], e["status"]) for e in client.handle.app.request_log]
    assert statuses == [(f"/fhir/Patient/{RUTH}", 401), ("/elsewhere", 404)]
