"""The local https authority itself: the contract the upstream auth tests (and MSAL) rely on."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from devtools.local_authority import LocalAuthority


def _token(authority: LocalAuthority, **kwargs: Any) -> requests.Response:
    return requests.post(
        authority.url_for("t") + "/oauth2/v2.0/token", verify=str(authority.ca_bundle_path), timeout=10, **kwargs
    )


def test_discovery_issuer_is_exactly_the_authority_url(authority: LocalAuthority) -> None:
    for path in ("/.well-known/openid-configuration", "/v2.0/.well-known/openid-configuration"):
        document = requests.get(authority.url_for("t") + path, verify=str(authority.ca_bundle_path), timeout=10).json()

        assert document["issuer"] == f"https://localhost:{authority.port}/t"
        assert document["token_endpoint"] == f"https://localhost:{authority.port}/t/oauth2/v2.0/token"


def test_certificate_is_valid_for_127_0_0_1_too(authority: LocalAuthority) -> None:
    answer = requests.get(
        f"https://127.0.0.1:{authority.port}/t/.well-known/openid-configuration",
        verify=str(authority.ca_bundle_path),
        timeout=10,
    )

    assert answer.status_code == 200


def test_client_secret_basic_and_post_both_get_tokens_and_secrets_are_not_recorded(authority: LocalAuthority) -> None:
    authority.register_client("app", "pw")
    form = {"grant_type": "client_credentials", "scope": "x/.default"}

    by_post = _token(authority, data={**form, "client_id": "app", "client_secret": "pw"})
    by_basic = _token(authority, data=form, auth=("app", "pw"))

    assert by_post.status_code == by_basic.status_code == 200
    assert by_post.json()["expires_in"] == 3600 and by_post.json()["token_type"] == "Bearer"
    assert authority.issued_tokens == [by_post.json()["access_token"], by_basic.json()["access_token"]]
    assert authority.token_requests == 2
    assert all("pw" not in str(r) for r in authority.requests)


def test_unknown_client_gets_invalid_client_401(authority: LocalAuthority) -> None:
    answer = _token(authority, data={"grant_type": "client_credentials", "client_id": "who", "client_secret": "x"})

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert authority.issued_tokens == []


def test_stop_refuses_connections_and_start_listens_on_the_same_port_again(authority: LocalAuthority) -> None:
    port = authority.port
    authority.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        _token(authority, data={})

    authority.start()

    assert authority.port == port
    assert _token(authority, data={"grant_type": "client_credentials"}).status_code == 401


def test_stop_releases_a_hanging_answer(authority: LocalAuthority) -> None:
    authority.set_fault(hang_seconds=60)
    outcome: list[str] = []

    def call() -> None:
        try:
            _token(authority, data={})
            outcome.append("answered")
        except requests.exceptions.RequestException:
            outcome.append("failed")

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    authority.stop()
    caller.join(timeout=10)

    assert outcome in (["answered"], ["failed"])
    assert time.monotonic() - started < 5
