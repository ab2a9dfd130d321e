"""What a bridged answer may produce and spend: refused past its caps, counted, in bounded memory."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from shared.fhir.versions import FhirVersion
from shared.proxy.bridging import translate_answer
from shared.proxy.errors import ProxyError
from shared.proxy.link_rewriter import LinkRewriter
from shared.version_bridge import conversion_budget, engine
from shared.version_bridge.large_bundles import convert_streaming

pytestmark = pytest.mark.slow  # amplified answers in bounded memory (seconds)

PROVIDER = "https://provider.test/r4"
REWRITER = LinkRewriter(PROVIDER, "https://gw.example/fhir")


@pytest.fixture(autouse=True)
def stu3_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "STU3")
    monkeypatch.setenv("GATEWAY_PUBLIC_BASE_URL", "https://gw.example")


def translate(body: bytes) -> bytes:
    return translate_answer(FhirVersion.R4, FhirVersion.STU3, body, "application/fhir+json", REWRITER)[0]


def amplifying_patient(values: int) -> bytes:
    """An R4 Patient with an element STU3 lacks, holding `values` integers: each would become an extension."""
    return b'{"resourceType":"Patient","id":"p","unknownElement":[' + b",".join([b"1"] * values) + b"]}"


def test_a_patient_amplified_into_extensions_is_refused_early_in_bounded_memory() -> None:
    body = amplifying_patient(1_000_000)  # 2 MB; 93 MB once translated, before the cap
    tracemalloc.start()
    try:
        with pytest.raises(ProxyError) as refused:
            translate(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status_code == 502
    assert "cross-version extensions" in refused.value.message
    # The parse of 1,000,000 integers is the cost (a list of pointers, 8 bytes each); nothing is translated.
    assert peak < 8 * len(body), f"peak {peak / len(body):.1f}x the body"


def test_the_extension_cap_counts_values_not_time() -> None:
    """Counted work: the values moved into extensions stop at the cap, however many the provider sends."""
    budget = conversion_budget.Budget(input_bytes=1000)
    resource = json.loads(amplifying_patient(50_000))
    token = conversion_budget._current.set(budget)
    try:
        with pytest.raises(conversion_budget.OverBudget):
            engine.convert_resource(resource, "R4", "STU3")
    finally:
        conversion_budget._current.reset(token)
    assert budget.extension_values <= budget.extension_cap == conversion_budget.MAX_EXTENSION_VALUES + 1000 // 64


def test_nothing_kept_in_extensions_counts_nothing() -> None:
    """STU3 Observations whose `related` all become R4 hasMember / derivedFrom keep no extension and spend none."""
    budget = conversion_budget.Budget(input_bytes=1000)
    related = [{"type": "has-member", "target": {"reference": "Observation/m"}}]
    token = conversion_budget._current.set(budget)
    try:
        for n in range(budget.extension_cap + 1):
            observation = {"resourceType": "Observation", "id": f"o{n}", "status": "final", "related": related}
            observation["code"] = {"text": "panel"}
            converted = engine.convert_resource(observation, "STU3", "R4")
            assert "extension" not in converted and converted["hasMember"] == [{"reference": "Observation/m"}]
    finally:
        conversion_budget._current.reset(token)
    assert budget.extension_values == 0


def test_an_ordinary_element_moved_into_extensions_passes() -> None:
    written = translate(amplifying_patient(100))
    assert len(json.loads(written)["extension"]) == 100


def test_a_bundle_growing_past_its_byte_cap_is_refused_while_it_is_written() -> None:
    """Every entry within the extension cap, together past the byte cap: refused entry by entry, not at the end."""
    entry = {"resource": {"resourceType": "Patient", "id": "p", "unknownElement": list(range(200))}}
    body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [entry] * 2_000}).encode()
    budget = conversion_budget.Budget(input_bytes=len(body))
    written: list[int] = []

    def entry_done(size: int) -> None:
        written.append(size)
        budget.check_written(size)

    with pytest.raises(conversion_budget.OverBudget):
        convert_streaming(
            body, lambda e, root: engine.convert_entry(e, "R4", "STU3", False), lambda root: root, entry_done
        )
    assert written[-1] > budget.answer_cap and len(written) < 2_000


def test_a_large_answer_checks_its_time_between_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversion_budget, "TIME_BUDGET_SECONDS", -1.0)  # already spent: refused at the first check
    entry = {"fullUrl": PROVIDER + "/Patient/p", "resource": {"resourceType": "Patient", "id": "p"}}
    body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [entry] * 20_000}).encode()
    with pytest.raises(ProxyError) as refused:
        translate(body)
    assert refused.value.status_code == 502 and "would take more than" in refused.value.message


def test_large_answers_take_turns_and_the_slot_is_released_after_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversion_budget, "LARGE_WAIT_SECONDS", 0.01)
    large = conversion_budget.LARGE_ANSWER_BYTES
    with pytest.raises(RuntimeError), conversion_budget.large_answer_slot(large):
        raise RuntimeError("the answer failed")
    with conversion_budget.large_answer_slot(large):  # released above, so taken at once
        with pytest.raises(conversion_budget.ConversionsBusy):
            with conversion_budget.large_answer_slot(large):
                pass
        with conversion_budget.large_answer_slot(large - 1):  # smaller answers never wait
            pass
