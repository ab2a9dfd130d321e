"""Over HTTP: a client rotates its own secret with overlap, revokes the old one, and is kept to itself."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from e2e_gateway import Gateway, Onboarded
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient

from shared.registry import clients
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


@dataclass(frozen=True)
class SecretsApi:
    """The three calls of the secrets API, as a client makes them with client_secret_basic."""

    client_id: str

    def url(self, secret_id: str | None = None) -> str:
        base = f"{PUBLIC_BASE}/oauth2/clients/{self.client_id}/secrets"
        return f"{base}/{secret_id}" if secret_id else base

    def list(self, secret: str, client_id: str | None = None) -> requests.Response:
        return requests.get(self.url(), auth=(client_id or self.client_id, secret), timeout=10)

    def create(self, secret: str, client_id: str | None = None, **options: Any) -> requests.Response:
        return requests.post(self.url(), auth=(client_id or self.client_id, secret), json=options or None, timeout=10)

    def delete(self, secret: str, secret_id: str, client_id: str | None = None) -> requests.Response:
        return requests.delete(self.url(secret_id), auth=(client_id or self.client_id, secret), timeout=10)


def oauth_error_of(response: requests.Response, status: int) -> str:
    """The OAuth error code of an answer, after checking its status, media type and caching."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error_description"]
    return response.json()["error"]


def token_status(client_id: str, secret: str, tenant_id: str) -> requests.Response:
    return requests.post(
        f"{PUBLIC_BASE}/oauth2/token",
        auth=(client_id, secret),
        timeout=10,
        data={"grant_type": "client_credentials", "scope": tenant_id},
    )


def issued_from(response: requests.Response) -> clients.IssuedSecret:
    assert response.status_code == 201, response.text
    body = response.json()
    return clients.IssuedSecret(body["client_id"], body["secret_id"], body["client_secret"], None)


def test_rotation_with_overlap_then_revocation_of_the_old_secret_and_its_tokens(
    gateway: Gateway, stu3_tenant: Onboarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_CACHE_TTL_SECONDS", "1")
    old, tenant_id = stu3_tenant.client, stu3_tenant.tenant.tenant_id
    api = SecretsApi(old.client_id)
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200

    new = issued_from(api.create(old.secret))
    new_token = gateway.token(new, tenant_id)
    assert gateway.get("Patient/665677", new_token).status_code == 200
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200
    assert {s["secret_id"] for s in api.list(new.secret).json()["secrets"]} == {old.secret_id, new.secret_id}

    deleted = api.delete(new.secret, old.secret_id)
    assert deleted.status_code == 204, deleted.text
    revoked_at = time.monotonic()
    assert oauth_error_of(token_status(old.client_id, old.secret, tenant_id), 401) == "invalid_client"
    while gateway.get("Patient/665677", stu3_tenant.token).status_code == 200:
        assert time.monotonic() - revoked_at < 1 + 2, "the old secret's token outlived the cache TTL"
        time.sleep(0.1)
    refused = gateway.get("Patient/665677", stu3_tenant.token)
    assert refused.status_code == 401 and "revoked" in refused.json()["issue"][0]["diagnostics"]
    assert gateway.get("Patient/665677", new_token).status_code == 200

    [remaining] = api.list(new.secret).json()["secrets"]
    assert remaining["secret_id"] == new.secret_id
    assert remaining["last_used_day"] == datetime.now(UTC).date().isoformat()


def test_a_token_from_a_just_created_secret_works_at_once(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    old = stu3_tenant.client
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200  # caches the client state
    new = issued_from(SecretsApi(old.client_id).create(old.secret))
    new_token = gateway.token(new, stu3_tenant.tenant.tenant_id)
    assert gateway.get("Patient/665677", new_token).status_code == 200


def test_old_tokens_die_once_the_cache_ttl_has_passed(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    old = stu3_tenant.client
    api = SecretsApi(old.client_id)
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 200
    new = issued_from(api.create(old.secret))
    assert api.delete(old.secret, old.secret_id).status_code == 204  # deletes the secret it authenticated with
    assert oauth_error_of(api.list(old.secret), 401) == "invalid_client"
    registry().forget()  # stands for REGISTRY_CACHE_TTL_SECONDS passing
    assert gateway.get("Patient/665677", stu3_tenant.token).status_code == 401
    assert [s["secret_id"] for s in api.list(new.secret).json()["secrets"]] == [new.secret_id]


def test_the_last_active_secret_cannot_be_deleted(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    issued = stu3_tenant.client
    api = SecretsApi(issued.client_id)
    response = api.delete(issued.secret, issued.secret_id)
    assert oauth_error_of(response, 409) == "invalid_request"
    assert "last active secret" in response.json()["error_description"]
    assert token_status(issued.client_id, issued.secret, stu3_tenant.tenant.tenant_id).status_code == 200


def test_a_third_active_secret_is_refused(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    issued = stu3_tenant.client
    api = SecretsApi(issued.client_id)
    issued_from(api.create(issued.secret, expires_in_days=30))
    assert oauth_error_of(api.create(issued.secret), 409) == "invalid_request"
    assert len(api.list(issued.secret).json()["secrets"]) == 2


def test_cross_client_calls_are_403_access_denied_and_change_nothing(
    gateway: Gateway, stu3_tenant: Onboarded, make_client: MakeClient
) -> None:
    victim, intruder = stu3_tenant.client, make_client(stu3_tenant.tenant.tenant_id)
    api = SecretsApi(victim.client_id)
    before = registry().get_client(victim.client_id).secrets
    assert oauth_error_of(api.list(intruder.secret, client_id=intruder.client_id), 403) == "access_denied"
    assert oauth_error_of(api.create(intruder.secret, client_id=intruder.client_id), 403) == "access_denied"
    assert (
        oauth_error_of(api.delete(intruder.secret, victim.secret_id, client_id=intruder.client_id), 403)
        == "access_denied"
    )
    assert registry().get_client(victim.client_id).secrets == before
    assert token_status(victim.client_id, victim.secret, stu3_tenant.tenant.tenant_id).status_code == 200


def test_another_clients_secret_under_this_client_id_is_401_invalid_client(
    gateway: Gateway, stu3_tenant: Onboarded, make_client: MakeClient
) -> None:
    intruder = make_client()
    response = SecretsApi(stu3_tenant.client.client_id).list(intruder.secret)
    assert oauth_error_of(response, 401) == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_an_unknown_secret_id_is_404(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    issued = stu3_tenant.client
    assert oauth_error_of(SecretsApi(issued.client_id).delete(issued.secret, "000000000000"), 404) == "invalid_request"


def test_delete_on_the_collection_is_405_with_allow(gateway: Gateway, stu3_tenant: Onboarded) -> None:
    issued = stu3_tenant.client
    response = requests.delete(SecretsApi(issued.client_id).url(), auth=(issued.client_id, issued.secret), timeout=10)
    assert oauth_error_of(response, 405) == "invalid_request"
    assert response.headers["Allow"] == "GET, POST"
