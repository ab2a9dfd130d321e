"""Search over HTTP: the Patients app's queries, modifiers, dates, tokens, counts, paging and sorting."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

RUTH = "665677"


def test_stu3_finds_ruth_black_by_given_and_family(stu3) -> None:
    bundle = stu3.search("Patient", given="ruth", family="black")
    assert bundle["total"] == 1 and stu3.ids(bundle) == [RUTH]
    assert bundle["entry"][0]["search"] == {"mode": "match"}
    assert bundle["entry"][0]["fullUrl"] == f"{stu3.base}/Patient/{RUTH}"


def test_dstu2_finds_ruth_black_by_family_contains_in_a_form_post(dstu2) -> None:
    response = dstu2.post("Patient/_search", data={"family:contains": "lac", "given": "Ruth"})
    assert response.status_code == 200
    assert dstu2.ids(response.json()) == [RUTH]


def test_plain_family_is_contains_in_stu3_and_starts_with_in_dstu2(stu3, dstu2) -> None:
    assert stu3.ids(stu3.search("Patient", family="lac")) == [RUTH]
    assert dstu2.search("Patient", family="lac")["total"] == 0
    assert RUTH in dstu2.ids(dstu2.search("Patient", family="bla"))
    assert stu3.ids(stu3.search("Patient", **{"family:contains": "LAC"})) == [RUTH]


def test_family_exact_is_case_sensitive(stu3) -> None:
    assert stu3.ids(stu3.search("Patient", **{"family:exact": "Black"})) == [RUTH]
    assert stu3.search("Patient", **{"family:exact": "black"})["total"] == 0


def test_name_matches_any_part_of_the_name(dstu2) -> None:
    assert set(dstu2.ids(dstu2.search("Patient", name="ruth"))) == {RUTH, "765583"}
    assert dstu2.ids(dstu2.search("Patient", name="black")) == [RUTH]


def test_birthdate_exact_and_with_prefixes(stu3) -> None:
    assert stu3.ids(stu3.search("Patient", birthdate="1951-08-23")) == [RUTH]
    assert stu3.ids(stu3.search("Patient", birthdate="eq1951-08-23")) == [RUTH]
    assert RUTH in stu3.ids(stu3.search("Patient", birthdate="1951", _count=500))
    ge = stu3.search("Patient", birthdate="ge2010-12-16", _count=500)
    assert ge["total"] == 4 and all(e["resource"]["birthDate"] >= "2010-12-16" for e in ge["entry"])
    gt = stu3.search("Patient", birthdate="gt2010-12-16", _count=500)
    assert gt["total"] == 2
    lt = stu3.search("Patient", birthdate="lt1933", _count=500)
    years = {e["resource"]["birthDate"][:4] for e in lt["entry"]}
    assert "1932" in years and all(year < "1933" for year in years)
    le = stu3.search("Patient", birthdate=["ge1951-08-23", "le1951-08-23"])
    assert stu3.ids(le) == [RUTH]


def test_invalid_date_answers_400(stu3) -> None:
    response = stu3.get("Patient", params={"birthdate": "23/08/1951"})
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


def test_gender_and_identifier_by_value_and_system_value(stu3) -> None:
    mrn = stu3.get(f"Patient/{RUTH}").json()["identifier"][0]
    assert stu3.ids(stu3.search("Patient", identifier=mrn["value"])) == [RUTH]
    assert stu3.ids(stu3.search("Patient", identifier=f"{mrn['system']}|{mrn['value']}")) == [RUTH]
    assert stu3.search("Patient", identifier=f"urn:other|{mrn['value']}")["total"] == 0
    females = stu3.search("Patient", gender="female", _count=500)
    assert females["total"] > 0 and all(e["resource"]["gender"] == "female" for e in females["entry"])
    assert stu3.ids(stu3.search("Patient", gender="female", given="ruth", birthdate="1951-08-23")) == [RUTH]


def test_id_search_with_alternatives(stu3) -> None:
    assert sorted(stu3.ids(stu3.search("Patient", _id=f"{RUTH},765583"))) == [RUTH, "765583"]


def test_patient_subject_and_full_reference_forms_are_equivalent(stu3) -> None:
    plain = stu3.search("Observation", patient=RUTH, _count=500)
    assert plain["total"] > 100
    assert stu3.search("Observation", patient=f"Patient/{RUTH}")["total"] == plain["total"]
    assert stu3.search("Observation", subject=f"Patient/{RUTH}")["total"] == plain["total"]
    absolute = stu3.search("Observation", patient=f"{stu3.base}/Patient/{RUTH}")
    assert absolute["total"] == plain["total"]


def test_category_and_code_filter_observations(stu3) -> None:
    system = "http://hl7.org/fhir/observation-category"
    vitals = stu3.search("Observation", patient=RUTH, category="vital-signs")
    labs = stu3.search("Observation", patient=RUTH, category=f"{system}|laboratory")
    everything = stu3.search("Observation", patient=RUTH)
    assert vitals["total"] and labs["total"] and vitals["total"] + labs["total"] == everything["total"]
    heart = stu3.search("Observation", patient=RUTH, code="http://loinc.org|8867-4", _count=500)
    assert heart["total"] and {e["resource"]["code"]["coding"][0]["code"] for e in heart["entry"]} == {"8867-4"}
    both = stu3.search("Observation", patient=RUTH, code="8867-4,9279-1")
    assert both["total"] > heart["total"]


def test_count_limits_entries_and_total_counts_all_matches(stu3) -> None:
    bundle = stu3.search("Patient", _count=5)
    assert bundle["total"] == 67 and len(bundle["entry"]) == 5
    assert stu3.search("Patient", _count=0).get("entry") is None
    assert len(stu3.search("Observation", _count=1000)["entry"]) == 500
    assert stu3.get("Patient", params={"_count": "many"}).status_code == 400


def test_default_page_size_is_50(stu3) -> None:
    assert len(stu3.search("Patient")["entry"]) == 50


@pytest.mark.parametrize("paging", ["getpages", "offset"])
def test_paging_through_next_links_returns_every_id_once(make_sandbox, paging: str) -> None:
    client = make_sandbox(paging=paging)
    url, seen, pages = f"{client.base}/Patient?_count=7", [], 0
    while url:
        assert url.startswith(client.base)
        bundle = client.get(url).json()
        assert bundle["total"] == 67
        seen += client.ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if pages:
            assert "previous" in links
        url, pages = links.get("next"), pages + 1
    assert len(seen) == 67 and len(set(seen)) == 67 and pages == 10


def test_getpages_links_keep_the_search_and_the_sort(stu3) -> None:
    first_page = stu3.search("Observation", patient=RUTH, category="vital-signs", _count=10, _sort="-date")
    next_url = next(link["url"] for link in first_page["link"] if link["relation"] == "next")
    query = parse_qs(urlsplit(next_url).query)
    assert urlsplit(next_url).path == "/fhir" and query["_getpagesoffset"] == ["10"]
    second = stu3.get(next_url).json()
    dates = [e["resource"]["effectiveDateTime"] for e in first_page["entry"] + second["entry"]]
    assert dates == sorted(dates, reverse=True) and second["total"] == first_page["total"]


def test_bad_getpages_token_answers_400(stu3) -> None:
    assert stu3.get("", params={"_getpages": "not-a-token!"}).status_code == 400


def test_newest_first_in_every_spelling(stu3) -> None:
    orders = []
    for params in ({"_sort": "-date"}, {"_sort:desc": "date"}):
        bundle = stu3.search("Encounter", patient=RUTH, _count=500, **params)
        orders.append(stu3.ids(bundle))
        starts = [e["resource"]["period"]["start"] for e in bundle["entry"]]
        assert starts == sorted(starts, reverse=True)
    assert orders[0] == orders[1]
    ascending = stu3.search("Encounter", patient=RUTH, _count=500, _sort="date")
    starts = [e["resource"]["period"]["start"] for e in ascending["entry"]]
    assert starts == sorted(starts) and starts[0] < starts[-1]


def test_last_encounter_query_of_the_patients_app(dstu2) -> None:
    bundle = dstu2.search("Encounter", patient=RUTH, _count=1, **{"_sort:desc": "date"})
    everything = dstu2.search("Encounter", patient=RUTH, _count=500)
    latest = max(e["resource"]["period"]["start"] for e in everything["entry"])
    assert bundle["total"] == everything["total"] and len(bundle["entry"]) == 1
    assert bundle["entry"][0]["resource"]["period"]["start"] == latest


def test_post_search_merges_query_and_form_body(stu3) -> None:
    response = stu3.post("Patient/_search?gender=female", data={"given": "ruth", "_count": "1"})
    bundle = response.json()
    assert bundle["total"] == 2 and len(bundle["entry"]) == 1
    self_link = bundle["link"][0]["url"]
    assert "gender=female" in self_link and "given=ruth" in self_link


def test_post_search_with_a_json_body_answers_415(stu3) -> None:
    assert stu3.post("Patient/_search", json={"given": "ruth"}).status_code == 415


def test_unknown_parameters_are_ignored_but_strict_mode_answers_400(make_sandbox) -> None:
    lenient = make_sandbox()
    bundle = lenient.search("Patient", given="ruth", foo="bar")
    assert bundle["total"] == 2 and "foo" not in bundle["link"][0]["url"]
    strict = make_sandbox(strict=True)
    response = strict.get("Patient", params={"given": "ruth", "foo": "bar"})
    assert response.status_code == 400 and "foo" in response.json()["issue"][0]["diagnostics"]


def test_coverage_patient_is_not_an_stu3_parameter(make_sandbox) -> None:
    lenient = make_sandbox()
    assert lenient.search("Coverage", patient=RUTH)["total"] == 67  # ignored: every coverage matches
    assert lenient.ids(lenient.search("Coverage", beneficiary=RUTH)) == [f"cov-{RUTH}"]
    strict = make_sandbox(strict=True)
    assert strict.get("Coverage", params={"patient": RUTH}).status_code == 400
    assert strict.ids(strict.search("Coverage", beneficiary=RUTH)) == [f"cov-{RUTH}"]


def test_dstu2_coverage_accepts_patient(make_sandbox) -> None:
    strict = make_sandbox(flavour="DSTU2", strict=True)
    assert strict.ids(strict.search("Coverage", patient=RUTH)) == [f"cov-{RUTH}"]
    assert strict.get("Coverage", params={"beneficiary": RUTH}).status_code == 400


def test_sort_spelling_without_underscore_is_an_unknown_parameter(make_sandbox) -> None:
    strict = make_sandbox(strict=True)
    assert strict.get("Observation", params={"patient": RUTH, "sort:desc": "date"}).status_code == 400
    assert strict.get("Observation", params={"patient": RUTH, "_sort": "-nonsense"}).status_code == 400
