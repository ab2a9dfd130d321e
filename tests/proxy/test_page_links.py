"""Page tokens (sealed, tenant-bound, expiring) and the Bundle link rewriting that hands them out."""

from __future__ import annotations

import base64
import json
import logging
import os
import time

import pytest
from gateway_env import SIGNING_KEY

from shared.proxy import page_tokens
from shared.proxy.errors import InvalidRequest, PageLinkExpired
from shared.proxy.page_links import PAGE_PARAMETER, followed_page_link, shorten_page_links
from shared.tokens.signing_keys import generate_private_key_pem

BASE = "https://gateway.example.test/fhir"
TENANT = "0b6c3c39-1111-4000-8000-000000000001"
OTHER = "0b6c3c39-2222-4000-8000-000000000002"


def _bundle(*links: tuple[str, str], tail: str = "") -> bytes:
    link = ",".join(json.dumps({"relation": r, "url": u}) for r, u in links)
    return (
        '{"resourceType":"Bundle","type":"searchset","total":3,"link":[' + link + "],"
        '"entry":[{"resource":{"resourceType":"Observation","valueQuantity":{"value":1.50}}}]' + tail + "}"
    ).encode()


def _links(body: bytes) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in json.loads(body)["link"]}


def test_navigation_links_become_short_tokens_and_everything_else_stays_byte_for_byte() -> None:
    next_link = f"{BASE}/Patient?_count=2&_offset=2&ct=" + "x" * 5000
    body = _bundle(("self", f"{BASE}/Patient?_count=2"), ("next", next_link), ("previous", f"{BASE}?_getpages=a"))

    shortened = shorten_page_links(body, BASE, TENANT)

    links = _links(shortened)
    assert links["self"] == f"{BASE}/Patient?_count=2"
    assert links["next"].startswith(f"{BASE}?{PAGE_PARAMETER}=") and len(links["next"]) < 400
    assert b'"value":1.50' in shortened  # the rest is not re-serialised (FHIR decimals keep their digits)
    assert shortened.endswith(body[body.index(b'"entry"') :])
    token = links["next"].split("=", 1)[1]
    assert followed_page_link("", f"{PAGE_PARAMETER}={token}", TENANT) == ("Patient", next_link.split("?", 1)[1])
    assert followed_page_link("", links["previous"].split("?", 1)[1], TENANT) == ("", "_getpages=a")


def test_a_link_after_the_entries_and_a_spaced_body_are_found_too() -> None:
    body = (
        b'{ "resourceType" : "Bundle", "entry" : [ {"resource": {"resourceType": "Patient", "link": []}} ],\n'
        b'  "link" : [ { "relation" : "next", "url" : "' + BASE.encode() + b'/Patient?_offset=2" } ] }'
    )
    assert _links(shorten_page_links(body, BASE, TENANT))["next"].startswith(f"{BASE}?{PAGE_PARAMETER}=")


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType":"Patient","link":[{"other":{"reference":"Patient/2"},"type":"seealso"}]}',
        _bundle(("next", "https://elsewhere.example/fhir/Patient?_offset=2")),
        _bundle(("next", BASE + "x/Patient?_offset=2")),
        b'not json at all, yet with "link" and "relation" in it',
        b'{"resourceType":"Bundle","link":[{"relation":"next","url":"' + BASE.encode() + b"/P",
    ],
)
def test_other_answers_are_left_as_they_are(body: bytes) -> None:
    assert shorten_page_links(body, BASE, TENANT) == body


def test_a_link_whose_state_does_not_compress_is_left_long_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    state = base64.urlsafe_b64encode(os.urandom(4500)).decode()
    body = _bundle(("next", f"{BASE}/Patient?ct={state}"))
    with caplog.at_level(logging.WARNING, logger="shared.proxy.page_links"):
        assert shorten_page_links(body, BASE, TENANT) == body
    assert "left as the provider wrote it" in caplog.text and state not in caplog.text


def test_a_token_opens_only_for_its_tenant_unchanged_and_in_time() -> None:
    token = page_tokens.seal("/Patient?_count=2", TENANT)
    assert page_tokens.open_token(token, TENANT) == "/Patient?_count=2"
    with pytest.raises(page_tokens.PageTokenInvalid):
        page_tokens.open_token(token, OTHER)
    for changed in (token[:-1], token[:30] + ("A" if token[30] != "A" else "B") + token[31:], "", "%%%", "AAAA"):
        with pytest.raises(page_tokens.PageTokenInvalid):
            page_tokens.open_token(changed, TENANT)
    late = time.time() + page_tokens.LIFETIME_SECONDS + 1
    with pytest.raises(page_tokens.PageTokenExpired):
        page_tokens.open_token(token, TENANT, now=late)


def test_no_provider_url_or_query_is_readable_in_a_token() -> None:
    token = page_tokens.seal("/Patient?family=Black&ct=provider-state", TENANT)
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"Black" not in decoded and b"provider-state" not in decoded and b"Patient" not in decoded


def test_tokens_survive_a_signing_key_rotation_and_die_with_the_old_key(monkeypatch: pytest.MonkeyPatch) -> None:
    token = page_tokens.seal("/Patient", TENANT)
    monkeypatch.setenv("TOKEN_SIGNING_KEY", generate_private_key_pem())
    monkeypatch.setenv("TOKEN_SIGNING_KEY_PREVIOUS", SIGNING_KEY)
    assert page_tokens.open_token(token, TENANT) == "/Patient"
    monkeypatch.setenv("TOKEN_SIGNING_KEY_PREVIOUS", "")
    with pytest.raises(page_tokens.PageTokenInvalid):
        page_tokens.open_token(token, TENANT)


def test_a_token_that_inflates_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = page_tokens.seal("/Patient?x=" + "a" * 10_000, TENANT)
    assert len(bomb) < 300  # compresses to almost nothing, so the limit is checked on the inflated size
    monkeypatch.setattr(page_tokens, "MAX_LINK_BYTES", 1000)
    with pytest.raises(page_tokens.PageTokenInvalid):
        page_tokens.open_token(bomb, TENANT)
    with pytest.raises(ValueError):
        page_tokens.seal("/Patient?x=" + "a" * 1000, TENANT)


def test_following_a_page_link_refuses_extra_parameters_and_reports_expiry() -> None:
    token = page_tokens.seal("/Patient", TENANT)
    assert followed_page_link("Patient", "_count=2", TENANT) is None
    with pytest.raises(InvalidRequest):
        followed_page_link("", f"{PAGE_PARAMETER}={token}&_count=9", TENANT)
    with pytest.raises(InvalidRequest):
        followed_page_link("Patient", f"{PAGE_PARAMETER}={token}", TENANT)
    with pytest.raises(InvalidRequest):
        followed_page_link("", f"_count=9&{PAGE_PARAMETER}={token}", TENANT)
    old = page_tokens.seal("/Patient", TENANT, now=time.time() - page_tokens.LIFETIME_SECONDS - 5)
    with pytest.raises(PageLinkExpired):
        followed_page_link("", f"{PAGE_PARAMETER}={old}", TENANT)
