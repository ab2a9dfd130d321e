"""The token endpoint over function calls against Azurite: RFC 6749 §4.4 and every §5.2 error."""

from __future__ import annotations

import logging
from datetime import UTC

import azure.functions as func
import jwt
import pytest
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant, Onboarded, basic_auth, json_body, token_request

import token_fn
from shared.registry import clients
from shared.registry.memory_storage import MemoryStorage
from shared.registry.service import registry


@pytest.fixture
def onboarded(make_tenant: MakeTenant, make_client: MakeClient) -> Onboarded:
    tenant = make_tenant()
    return tenant, make_client(tenant.tenant_id)


def grant(issued: clients.IssuedSecret, tenant_id: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.secret,
        "scope": tenant_id,
        **extra,
    }


def assert_oauth_error(response: func.HttpResponse, status: int, error: str) -> dict[str, str]:
    body = json_body(response)
    assert response.status_code == status, body
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    return body


def test_issues_bearer_token_with_tenant_in_scope(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id)))
    body = json_body(response)
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == tenant.tenant_id
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256" and header["kid"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["scope"] == claims["tid"] == tenant.tenant_id
    assert claims["sub"] == claims["client_id"] == issued.client_id
    assert claims["iss"] == PUBLIC_BASE and claims["aud"] == PUBLIC_BASE + "/fhir"
    assert claims["secret_id"] == issued.secret_id
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"] and claims["jti"]


def test_accepts_the_hyphenated_grant_type_of_microsofts_sample(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    form = grant(issued, tenant.tenant_id)
    form["grant-type"] = form.pop("grant_type")
    assert token_fn.main(token_request(form)).status_code == 200


def test_client_secret_basic_authenticates(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
    response = token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret)))
    assert response.status_code == 200, json_body(response)


def test_tenant_guid_in_upper_case_is_accepted_and_normalised(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id.upper())))
    assert json_body(response)["scope"] == tenant.tenant_id


def test_token_lifetime_follows_the_client_entity(make_tenant: MakeTenant, make_client: MakeClient) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id, token_lifetime=600)
    assert json_body(token_fn.main(token_request(grant(issued, tenant.tenant_id))))["expires_in"] == 600


def test_invalid_client_for_unknown_client(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    form = grant(issued, tenant.tenant_id, client_id="00000000-0000-0000-0000-000000000000")
    response = token_fn.main(token_request(form))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_wrong_secret_and_unknown_client_are_indistinguishable(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    wrong = token_fn.main(token_request(grant(issued, tenant.tenant_id, client_secret="not-the-secret")))
    unknown = token_fn.main(token_request(grant(issued, tenant.tenant_id, client_id="someone-else")))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_body() == unknown.get_body()
    assert dict(wrong.headers) == dict(unknown.headers)


def test_invalid_client_without_any_credentials(onboarded: Onboarded) -> None:
    tenant, _ = onboarded
    response = token_fn.main(token_request({"grant_type": "client_credentials", "scope": tenant.tenant_id}))
    assert_oauth_error(response, 401, "invalid_client")


def test_invalid_client_for_malformed_basic_credentials(onboarded: Onboarded) -> None:
    tenant, _ = onboarded
    form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
    response = token_fn.main(token_request(form, {"Authorization": "Basic %%%not-base64"}))
    assert_oauth_error(response, 401, "invalid_client")


def test_invalid_request_when_two_authentication_methods_are_used(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    request = token_request(grant(issued, tenant.tenant_id), basic_auth(issued.client_id, issued.secret))
    response = token_fn.main(request)
    assert_oauth_error(response, 400, "invalid_request")


def test_unsupported_grant_type(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id, grant_type="password")))
    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_invalid_request_without_grant_type(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    form = grant(issued, tenant.tenant_id)
    del form["grant_type"]
    assert_oauth_error(token_fn.main(token_request(form)), 400, "invalid_request")


def test_invalid_request_when_both_grant_type_spellings_disagree(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    form = grant(issued, tenant.tenant_id, **{"grant-type": "password"})
    assert_oauth_error(token_fn.main(token_request(form)), 400, "invalid_request")


@pytest.mark.parametrize(
    "scope",
    ["", "not-a-guid", "11111111-1111-1111-1111-111111111111 22222222-2222-2222-2222-222222222222"],
    ids=["missing", "malformed", "two-tenants"],
)
def test_invalid_scope_for_bad_scope_values(onboarded: Onboarded, scope: str) -> None:
    _, issued = onboarded
    assert_oauth_error(token_fn.main(token_request(grant(issued, scope))), 400, "invalid_scope")


def test_invalid_scope_for_a_tenant_the_client_may_not_use(make_tenant: MakeTenant, make_client: MakeClient) -> None:
    mine, other = make_tenant(), make_tenant()
    issued = make_client(mine.tenant_id)
    assert_oauth_error(token_fn.main(token_request(grant(issued, other.tenant_id))), 400, "invalid_scope")


def test_invalid_scope_for_a_tenant_not_onboarded(make_client: MakeClient) -> None:
    issued = make_client()
    response = token_fn.main(token_request(grant(issued, "33333333-3333-4333-8333-333333333333")))
    assert_oauth_error(response, 400, "invalid_scope")


def test_invalid_scope_for_a_disabled_tenant(make_tenant: MakeTenant, make_client: MakeClient) -> None:
    tenant = make_tenant(enabled=False)
    issued = make_client(tenant.tenant_id)
    assert_oauth_error(token_fn.main(token_request(grant(issued, tenant.tenant_id))), 400, "invalid_scope")


def test_unauthorized_client_when_the_client_is_disabled(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    registry().set_client_enabled(issued.client_id, False)
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id)))
    assert_oauth_error(response, 400, "unauthorized_client")


def test_revoked_secret_no_longer_gets_tokens_while_the_new_one_does(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    rotated = registry().add_secret(issued.client_id, operator=True)
    assert token_fn.main(token_request(grant(issued, tenant.tenant_id))).status_code == 200
    assert token_fn.main(token_request(grant(rotated, tenant.tenant_id))).status_code == 200
    registry().revoke_secret(issued.client_id, issued.secret_id, operator=True)
    assert_oauth_error(token_fn.main(token_request(grant(issued, tenant.tenant_id))), 401, "invalid_client")
    assert token_fn.main(token_request(grant(rotated, tenant.tenant_id))).status_code == 200


def test_expired_secret_is_refused(onboarded: Onboarded, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime, timedelta

    from shared.registry.storage import Merge

    tenant, issued = onboarded
    registry().storage.commit(
        "Clients",
        [
            Merge(
                {
                    "PartitionKey": issued.client_id,
                    "RowKey": "secret-" + issued.secret_id,
                    "ExpiresAt": datetime.now(UTC) - timedelta(minutes=1),
                }
            )
        ],
    )
    assert_oauth_error(token_fn.main(token_request(grant(issued, tenant.tenant_id))), 401, "invalid_client")


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "multipart/form-data"])
def test_invalid_request_for_a_body_that_is_not_a_form(onboarded: Onboarded, content_type: str | None) -> None:
    tenant, issued = onboarded
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id), content_type=content_type))
    assert_oauth_error(response, 400, "invalid_request")


def test_form_content_type_with_charset_is_accepted(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    content_type = "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
    request = token_request(grant(issued, tenant.tenant_id), content_type=content_type)
    assert token_fn.main(request).status_code == 200


def test_invalid_request_for_an_empty_body() -> None:
    from gateway_testing import function_request

    request = function_request("POST", body=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_oauth_error(token_fn.main(request), 400, "invalid_request")


def test_invalid_request_for_a_repeated_parameter(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    pairs = [*grant(issued, tenant.tenant_id).items(), ("scope", tenant.tenant_id)]
    body = assert_oauth_error(token_fn.main(token_request(pairs)), 400, "invalid_request")
    assert "scope" in body["error_description"]


def test_payload_too_large_for_an_oversized_body(onboarded: Onboarded) -> None:
    tenant, issued = onboarded
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id, padding="x" * 20_000)))
    assert_oauth_error(response, 413, "invalid_request")


def test_invalid_request_for_a_body_that_is_not_utf8() -> None:
    from gateway_testing import function_request

    request = function_request(
        "POST",
        body=b"grant_type=client_credentials&scope=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(token_fn.main(request), 400, "invalid_request")


@pytest.mark.table_storage
def test_temporarily_unavailable_when_table_storage_is_down(
    onboarded: Onboarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools.azurite import connection_string, free_port

    tenant, issued = onboarded
    monkeypatch.setenv("REGISTRY_CONNECTION_STRING", connection_string(free_port()))
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id)))
    assert_oauth_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"]


def test_temporarily_unavailable_when_the_in_memory_registry_is_down(
    onboarded: Onboarded, memory_registry: MemoryStorage
) -> None:
    tenant, issued = onboarded
    memory_registry.unavailable = True
    response = token_fn.main(token_request(grant(issued, tenant.tenant_id)))
    assert_oauth_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"]


def test_no_secret_or_token_reaches_the_logs(onboarded: Onboarded, caplog: pytest.LogCaptureFixture) -> None:
    tenant, issued = onboarded
    caplog.set_level(logging.DEBUG)
    granted = json_body(token_fn.main(token_request(grant(issued, tenant.tenant_id))))
    token_fn.main(token_request(grant(issued, tenant.tenant_id, client_secret=issued.secret + "x")))
    assert caplog.records, "the endpoint logs its outcomes"
    for text in (issued.secret, granted["access_token"]):
        assert text not in caplog.text
