"""error_description stays inside RFC 6749 §5.2's character set and never reflects input unbounded."""

from __future__ import annotations

import re

import pytest
from gateway_testing import json_body, token_request

import token_fn
from shared.oauth.errors import InvalidRequest, OAuthError, SlowDown
from shared.proxy.errors import NotAuthenticated

RFC_6749_CHARSET = re.compile(r"^[\x20\x21\x23-\x5B\x5D-\x7E]*$")
HOSTILE_NAMES = ["<script>alert(1)</script>", "evil\u202egpj.exe", "x" * 8000, 'quo"te\\back', "caf\u00e9"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["html", "rtl-override", "8-kb", "quote-backslash", "non-ascii"])
@pytest.mark.parametrize("problem", ["repeated", "control"])
def test_hostile_parameter_names_are_not_reflected(name: str, problem: str) -> None:
    value = "a\x01b" if problem == "control" else "x"
    pairs = [(name, value), (name, value)] if problem == "repeated" else [(name, value)]
    response = token_fn.main(token_request(pairs))
    description = json_body(response)["error_description"]
    assert response.status_code == 400
    assert RFC_6749_CHARSET.match(description) and len(description) <= 200
    assert name not in description


def test_a_plain_parameter_name_is_still_named() -> None:
    response = token_fn.main(token_request([("scope", "a"), ("scope", "b")]))
    assert "scope" in json_body(response)["error_description"]


@pytest.mark.parametrize("error", [InvalidRequest("bad <b>\u202e\n" + "y" * 5000), SlowDown('"quoted" \\ x')])
def test_every_description_is_cut_to_the_charset_and_bounded(error: OAuthError) -> None:
    description = error.body()["error_description"]
    assert RFC_6749_CHARSET.match(description) and len(description) <= 200


def test_the_bearer_challenge_description_is_in_the_charset_too() -> None:
    challenge = NotAuthenticated('bad "token" \\ \u202e', token_presented=True).headers["WWW-Authenticate"]
    description = challenge.split('error_description="', 1)[1][:-1]
    assert RFC_6749_CHARSET.match(description)
