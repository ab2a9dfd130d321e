"""Client self-service secrets over function calls against Azurite: list, create, delete and every refusal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from gateway_testing import FORM, MakeClient, MakeTenant, basic_auth, function_request, json_body, token_request

import client_secrets_fn
import token_fn
from shared.registry import clients
from shared.registry.errors import RegistryUnavailable
from shared.registry.service import registry

BASE = "https://gateway.example.test/oauth2/clients"


def secrets_call(
    method: str,
    client_id: str,
    credentials: clients.IssuedSecret | None,
    secret_id: str | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    """Calls the function the way the host does for /oauth2/clients/{client_id}/secrets[/{secret_id}]."""
    all_headers = dict(headers or {})
    if credentials is not None:
        all_headers.update(basic_auth(credentials.client_id, credentials.secret))
    route_params = {"client_id": client_id} | ({"secret_id": secret_id} if secret_id else {})
    url = f"{BASE}/{client_id}/secrets" + (f"/{secret_id}" if secret_id else "")
    return client_secrets_fn.main(function_request(method, url, body, all_headers, route_params=route_params))


def assert_oauth_error(response: func.HttpResponse, status: int, error: str) -> dict[str, str]:
    body = json_body(response)
    assert response.status_code == status, body
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    return body


def create(issued: clients.IssuedSecret, **options: Any) -> clients.IssuedSecret:
    body = json.dumps(options).encode() if options else b""
    response = secrets_call(
        "POST", issued.client_id, issued, body=body, headers={"Content-Type": "application/json"} if options else None
    )
    created = json_body(response)
    assert response.status_code == 201, created
    return clients.IssuedSecret(created["client_id"], created["secret_id"], created["client_secret"], None)


def gets_token(issued: clients.IssuedSecret) -> int:
    form = {"grant_type": "client_credentials", "scope": "11111111-1111-1111-1111-111111111111"}
    # Authentication runs before the scope is checked: 400 invalid_scope means the secret was accepted.
    return token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret))).status_code


def active_ids(client_id: str) -> set[str]:
    now = datetime.now(UTC)
    return {s.secret_id for s in registry().get_client(client_id).secrets if s.is_active(now)}


# --- list ---------------------------------------------------------------------------------


def test_list_shows_ids_and_dates_but_never_values_or_hashes(make_client: MakeClient) -> None:
    issued = make_client(expires_days=30)
    response = secrets_call("GET", issued.client_id, issued)
    body = json_body(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert body["client_id"] == issued.client_id and body["max_active_secrets"] == 2
    [listed] = body["secrets"]
    assert set(listed) == {"secret_id", "created", "expires", "last_used_day", "active"}
    assert listed["secret_id"] == issued.secret_id and listed["active"] is True
    assert listed["last_used_day"] is None
    assert datetime.fromisoformat(listed["expires"]) - datetime.fromisoformat(listed["created"]) == timedelta(days=30)
    stored = registry().get_client(issued.client_id).secrets[0].sha256
    assert issued.secret not in response.get_body().decode() and stored not in response.get_body().decode()


def test_list_leaves_out_deleted_secrets(make_client: MakeClient) -> None:
    issued = make_client()
    new = create(issued)
    assert secrets_call("DELETE", issued.client_id, new, issued.secret_id).status_code == 204
    listed = json_body(secrets_call("GET", issued.client_id, new))["secrets"]
    assert [s["secret_id"] for s in listed] == [new.secret_id]


def test_list_shows_the_day_a_secret_last_got_a_token(make_client: MakeClient, make_tenant: MakeTenant) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
    assert token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret))).status_code == 200
    [listed] = json_body(secrets_call("GET", issued.client_id, issued))["secrets"]
    assert listed["last_used_day"] == datetime.now(UTC).date().isoformat()


# --- create -------------------------------------------------------------------------------


def test_create_returns_the_new_secret_once_and_the_old_one_stays_valid(make_client: MakeClient) -> None:
    issued = make_client()
    response = secrets_call("POST", issued.client_id, issued)
    body = json_body(response)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    assert body["client_id"] == issued.client_id and body["expires"] is None and body["created"]
    new = clients.IssuedSecret(issued.client_id, body["secret_id"], body["client_secret"], None)
    assert active_ids(issued.client_id) == {issued.secret_id, new.secret_id}
    assert gets_token(issued) == gets_token(new) == 400
    listed = secrets_call("GET", issued.client_id, new).get_body().decode()
    assert new.secret not in listed


def test_create_with_expires_in_days_sets_the_expiry(make_client: MakeClient) -> None:
    issued = make_client()
    response = secrets_call(
        "POST",
        issued.client_id,
        issued,
        body=b'{"expires_in_days": 90}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    body = json_body(response)
    assert response.status_code == 201, body
    assert datetime.fromisoformat(body["expires"]) - datetime.fromisoformat(body["created"]) == timedelta(days=90)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"expires_in_days": 0}', "application/json"),
        (b'{"expires_in_days": 731}', "application/json"),
        (b'{"expires_in_days": "30"}', "application/json"),
        (b'{"expires_in_days": true}', "application/json"),
        (b'{"expires_in_days": 30, "name": "x"}', "application/json"),
        (b"[30]", "application/json"),
        (b"{not json", "application/json"),
        (b"expires_in_days=30", FORM),
    ],
    ids=["zero", "too-long", "text", "boolean", "unknown-field", "not-an-object", "malformed", "form"],
)
def test_create_with_a_bad_body_is_invalid_request_and_creates_nothing(
    make_client: MakeClient, body: bytes, content_type: str
) -> None:
    issued = make_client()
    response = secrets_call("POST", issued.client_id, issued, body=body, headers={"Content-Type": content_type})
    assert_oauth_error(response, 400, "invalid_request")
    assert active_ids(issued.client_id) == {issued.secret_id}


def test_create_beyond_the_active_secret_cap_is_409_invalid_request(make_client: MakeClient) -> None:
    issued = make_client()
    create(issued)
    body = assert_oauth_error(secrets_call("POST", issued.client_id, issued), 409, "invalid_request")
    assert "2 active secrets" in body["error_description"]
    assert len(active_ids(issued.client_id)) == 2


def test_the_cap_follows_the_setting(make_client: MakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_ACTIVE_CLIENT_SECRETS", "3")
    issued = make_client()
    create(issued)
    create(issued)
    assert_oauth_error(secrets_call("POST", issued.client_id, issued), 409, "invalid_request")
    assert json_body(secrets_call("GET", issued.client_id, issued))["max_active_secrets"] == 3


def test_expired_secrets_do_not_count_toward_the_cap(make_client: MakeClient) -> None:
    issued = make_client()
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    old = registry().add_secret(issued.client_id, expires_in_days=1, now=two_days_ago, operator=True)
    create(issued)
    listed = {s["secret_id"]: s for s in json_body(secrets_call("GET", issued.client_id, issued))["secrets"]}
    assert listed[old.secret_id]["active"] is False and len(listed) == 3


# --- delete -------------------------------------------------------------------------------


def test_delete_revokes_at_once_and_the_old_secret_gets_no_token(make_client: MakeClient) -> None:
    issued = make_client()
    new = create(issued)
    response = secrets_call("DELETE", issued.client_id, new, issued.secret_id)
    assert response.status_code == 204 and response.get_body() == b""
    assert response.headers["Cache-Control"] == "no-store"
    assert gets_token(issued) == 401
    assert gets_token(new) == 400
    assert registry().get_client(issued.client_id).secret(issued.secret_id).revoked  # kept for the audit trail


def test_a_client_may_delete_the_secret_it_authenticated_with_while_another_is_active(
    make_client: MakeClient,
) -> None:
    issued = make_client()
    new = create(issued)
    assert secrets_call("DELETE", issued.client_id, issued, issued.secret_id).status_code == 204
    assert active_ids(issued.client_id) == {new.secret_id}


def test_deleting_the_last_active_secret_is_409_invalid_request(make_client: MakeClient) -> None:
    issued = make_client()
    body = assert_oauth_error(
        secrets_call("DELETE", issued.client_id, issued, issued.secret_id), 409, "invalid_request"
    )
    assert "last active secret" in body["error_description"]
    assert gets_token(issued) == 400


def test_the_last_active_secret_is_protected_even_beside_expired_ones(make_client: MakeClient) -> None:
    issued = make_client()
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    expired = registry().add_secret(issued.client_id, expires_in_days=1, now=two_days_ago, operator=True)
    assert_oauth_error(secrets_call("DELETE", issued.client_id, issued, issued.secret_id), 409, "invalid_request")
    assert secrets_call("DELETE", issued.client_id, issued, expired.secret_id).status_code == 204


@pytest.mark.parametrize("secret_id", ["000000000000", "deleted"], ids=["unknown", "already-deleted"])
def test_deleting_an_unknown_secret_is_404_invalid_request(make_client: MakeClient, secret_id: str) -> None:
    issued = make_client()
    if secret_id == "deleted":
        new = create(issued)
        secrets_call("DELETE", issued.client_id, new, issued.secret_id)
        issued, secret_id = new, issued.secret_id
    assert_oauth_error(secrets_call("DELETE", issued.client_id, issued, secret_id), 404, "invalid_request")


# --- who may call -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "with_secret_id"), [("GET", False), ("POST", False), ("DELETE", True)])
def test_another_client_is_refused_with_403_access_denied(
    make_client: MakeClient, method: str, with_secret_id: bool
) -> None:
    victim, intruder = make_client(), make_client()
    create(victim)
    before = registry().get_client(victim.client_id).secrets
    response = secrets_call(method, victim.client_id, intruder, victim.secret_id if with_secret_id else None)
    assert_oauth_error(response, 403, "access_denied")
    assert registry().get_client(victim.client_id).secrets == before


def test_a_client_id_that_does_not_exist_is_403_like_any_other_client(make_client: MakeClient) -> None:
    intruder = make_client()
    assert_oauth_error(secrets_call("GET", "00000000-0000-0000-0000-000000000000", intruder), 403, "access_denied")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer abc"}, {"Authorization": "Basic %%%"}],
    ids=["no-credentials", "bearer", "malformed-basic"],
)
def test_missing_or_unusable_credentials_are_401_invalid_client(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    issued = make_client()
    response = secrets_call("GET", issued.client_id, None, headers=headers)
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_client_secret_post_is_not_accepted_here(make_client: MakeClient) -> None:
    issued = make_client()
    body = f"client_id={issued.client_id}&client_secret={issued.secret}".encode()
    response = secrets_call("POST", issued.client_id, None, body=body, headers={"Content-Type": FORM})
    assert_oauth_error(response, 401, "invalid_client")
    assert active_ids(issued.client_id) == {issued.secret_id}


def test_a_wrong_or_deleted_secret_is_401_invalid_client(make_client: MakeClient) -> None:
    issued = make_client()
    wrong = clients.IssuedSecret(issued.client_id, issued.secret_id, "not-the-secret", None)
    assert_oauth_error(secrets_call("GET", issued.client_id, wrong), 401, "invalid_client")
    new = create(issued)
    secrets_call("DELETE", issued.client_id, new, issued.secret_id)
    assert_oauth_error(secrets_call("GET", issued.client_id, issued), 401, "invalid_client")


def test_a_disabled_client_is_403_access_denied(make_client: MakeClient) -> None:
    issued = make_client()
    registry().set_client_enabled(issued.client_id, False)
    assert_oauth_error(secrets_call("POST", issued.client_id, issued), 403, "access_denied")
    assert active_ids(issued.client_id) == {issued.secret_id}


@pytest.mark.parametrize(
    ("method", "with_secret_id", "allow"),
    [("DELETE", False, "GET, POST"), ("GET", True, "DELETE"), ("POST", True, "DELETE"), ("PUT", False, "GET, POST")],
)
def test_other_methods_are_405_invalid_request_with_allow(
    make_client: MakeClient, method: str, with_secret_id: bool, allow: str
) -> None:
    issued = make_client()
    response = secrets_call(method, issued.client_id, issued, issued.secret_id if with_secret_id else None)
    assert_oauth_error(response, 405, "invalid_request")
    assert response.headers["Allow"] == allow


def test_guessing_secrets_here_is_throttled_with_429_slow_down(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_CLIENT", "3")
    issued = make_client()
    wrong = clients.IssuedSecret(issued.client_id, issued.secret_id, "guess", None)
    for _ in range(3):
        assert_oauth_error(secrets_call("GET", issued.client_id, wrong), 401, "invalid_client")
    response = secrets_call("POST", issued.client_id, issued)
    assert_oauth_error(response, 429, "slow_down")
    assert int(response.headers["Retry-After"]) >= 1
    assert active_ids(issued.client_id) == {issued.secret_id}


def test_guesses_here_and_at_the_token_endpoint_share_one_budget(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THROTTLE_MAX_FAILURES_PER_CLIENT", "2")
    issued = make_client()
    wrong = clients.IssuedSecret(issued.client_id, issued.secret_id, "guess", None)
    assert gets_token(wrong) == 401
    assert_oauth_error(secrets_call("GET", issued.client_id, wrong), 401, "invalid_client")
    assert gets_token(issued) == 429


# --- audit --------------------------------------------------------------------------------


def test_every_call_is_audited_without_secret_values_or_hashes(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    issued, intruder = make_client(), make_client()
    caplog.set_level(logging.INFO, logger="gateway.audit")
    new = create(issued)
    secrets_call("GET", issued.client_id, new)
    secrets_call("DELETE", issued.client_id, new, issued.secret_id)
    secrets_call("DELETE", issued.client_id, new, new.secret_id)
    secrets_call("GET", issued.client_id, intruder)
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    assert [(r["audit"], r["outcome"], r["status"], r.get("reason")) for r in records] == [
        ("client_secret.create", "succeeded", 201, None),
        ("client_secret.list", "succeeded", 200, None),
        ("client_secret.delete", "succeeded", 204, None),
        ("client_secret.delete", "refused", 409, "invalid_request"),
        ("client_secret.list", "refused", 403, "access_denied"),
    ]
    assert records[0]["secret_id"] == new.secret_id and records[2]["secret_id"] == issued.secret_id
    assert all(r["client_id"] == issued.client_id for r in records)
    assert records[4]["caller"] == intruder.client_id and records[4]["authenticated"] is True
    hashes = [s.sha256 for s in registry().get_client(issued.client_id).secrets]
    for value in (issued.secret, new.secret, intruder.secret, *hashes):
        assert value not in caplog.text


def test_a_create_body_over_4_kib_is_413_invalid_request(make_client: MakeClient) -> None:
    issued = make_client()
    body = b'{"expires_in_days": 30' + b" " * 5000 + b"}"
    response = secrets_call("POST", issued.client_id, issued, body=body, headers={"Content-Type": "application/json"})
    assert_oauth_error(response, 413, "invalid_request")
    assert active_ids(issued.client_id) == {issued.secret_id}


def test_an_unreachable_registry_is_503_temporarily_unavailable(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = make_client()

    def unreachable(client_id: str) -> None:  # a mock: Azurite cannot fail one call on demand
        raise RegistryUnavailable("Table Storage is unreachable")

    monkeypatch.setattr(registry(), "load_client", unreachable)
    response = secrets_call("GET", issued.client_id, issued)
    assert_oauth_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"]


def test_storage_failing_after_authentication_is_503_and_audited(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    issued = make_client()
    real_load = registry().load_client
    loads: list[str] = []

    def fails_after_the_first_read(client_id: str) -> clients.ClientState | None:  # a mock, as above
        loads.append(client_id)
        if len(loads) > 1:
            raise RegistryUnavailable("Table Storage is unreachable")
        return real_load(client_id)

    monkeypatch.setattr(registry(), "load_client", fails_after_the_first_read)
    caplog.set_level(logging.INFO, logger="gateway.audit")
    assert_oauth_error(secrets_call("POST", issued.client_id, issued), 503, "temporarily_unavailable")
    [record] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.audit"]
    assert record["outcome"] == "refused" and record["reason"] == "unavailable" and record["authenticated"]
    monkeypatch.undo()
    assert active_ids(issued.client_id) == {issued.secret_id}


def test_a_create_body_the_host_withheld_is_400_and_creates_nothing(make_client: MakeClient) -> None:
    # Sent chunked, the body never reaches the function on Azure: creating a secret without the asked-for
    # expiry would silently make one that never expires.
    issued = make_client()
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    response = secrets_call("POST", issued.client_id, issued, body=b"", headers=headers)
    assert_oauth_error(response, 400, "invalid_request")
    assert "Content-Length" in json_body(response)["error_description"]
    assert active_ids(issued.client_id) == {issued.secret_id}


def test_a_token_request_body_the_host_withheld_is_400_naming_content_length() -> None:
    headers = {"Transfer-Encoding": "chunked"}
    response = token_fn.main(function_request("POST", "https://gateway.example.test/oauth2/token", b"", headers))
    assert_oauth_error(response, 400, "invalid_request")
    assert "Content-Length" in json_body(response)["error_description"]
