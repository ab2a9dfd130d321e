"""The token endpoint over real HTTP through the local host: each RFC 6749 §5.2 error as a client sees it."""

from __future__ import annotations

import pytest
import requests
from e2e_gateway import Gateway
from gateway_testing import MakeClient, MakeTenant

from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


@pytest.fixture
def form(make_tenant: MakeTenant, make_client: MakeClient) -> dict[str, str]:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    return {
        "grant_type": "client_credentials",
        "client_id": issued.client_id,
        "client_secret": issued.secret,
        "scope": tenant.tenant_id,
    }


def post(gateway: Gateway, data: object, **kwargs: object) -> requests.Response:
    return requests.post(gateway.token_url, data=data, timeout=10, **kwargs)  # type: ignore[arg-type]  # requests' stubs are narrower than what it accepts


def assert_error(response: requests.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"
    assert response.json()["error"] == error


def test_a_token_over_http(gateway: Gateway, form: dict[str, str]) -> None:
    response = post(gateway, form)
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"


def test_basic_credentials_over_http(gateway: Gateway, form: dict[str, str]) -> None:
    auth = (form.pop("client_id"), form.pop("client_secret"))
    assert post(gateway, form, auth=auth).status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "unknown"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"scope": "not-a-guid"}, 400, "invalid_scope"),
        ({"scope": "99999999-9999-4999-8999-999999999999"}, 400, "invalid_scope"),
        ({"grant_type": None}, 400, "invalid_request"),
    ],
    ids=["wrong-secret", "unknown-client", "grant-type", "malformed-scope", "tenant-not-allowed", "no-grant-type"],
)
def test_errors_over_http(
    gateway: Gateway, form: dict[str, str], change: dict[str, str | None], status: int, error: str
) -> None:
    data = {k: v for k, v in {**form, **change}.items() if v is not None}
    response = post(gateway, data)
    assert_error(response, status, error)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_disabled_client_over_http(gateway: Gateway, form: dict[str, str]) -> None:
    registry().set_client_enabled(form["client_id"], False)
    assert_error(post(gateway, form), 400, "unauthorized_client")


def test_json_body_over_http(gateway: Gateway, form: dict[str, str]) -> None:
    assert_error(post(gateway, None, json=form), 400, "invalid_request")


def test_repeated_parameter_over_http(gateway: Gateway, form: dict[str, str]) -> None:
    assert_error(post(gateway, [*form.items(), ("scope", form["scope"])]), 400, "invalid_request")


def test_get_is_not_a_token_request(gateway: Gateway) -> None:
    assert requests.get(gateway.token_url, timeout=10).status_code in (404, 405)
