"""Every registry, settings and upstream failure gets the one answer per surface that shared.failure_statuses
defines - on the token endpoint, the secrets API and the proxy alike - and the README table says the same."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import azure.functions as func
import pytest
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant, basic_auth, function_request, json_body, token_request

import client_secrets_fn
import fhir_proxy_fn
import token_fn
from shared.failure_statuses import FAILURE_ANSWERS, Answer, Failure, Surface
from shared.proxy import forward, upstream_client
from shared.registry import cached, clients, connection, tenants
from shared.registry.errors import RegistryUnavailable
from shared.upstream_auth import UpstreamAuthError

pytestmark = pytest.mark.table_storage

README = Path(__file__).resolve().parents[2] / "README.md"
Breaker = Callable[[pytest.MonkeyPatch, clients.IssuedSecret, tenants.Tenant], None]


def _storage_down(monkeypatch: pytest.MonkeyPatch, *_: object) -> None:
    def unreachable(operation: object) -> None:
        raise RegistryUnavailable("Table Storage is unreachable")
    monkeypatch.setattr(connection, "call", unreachable)


def _client_broken(monkeypatch: pytest.MonkeyPatch, issued: clients.IssuedSecret, _: object) -> None:
    connection.table("Clients").update_entity({"PartitionKey": issued.client_id, "RowKey": "client",
                                               "AllowedTenants": "contoso"})


def _tenant_broken(monkeypatch: pytest.MonkeyPatch, _: object, tenant: tenants.Tenant) -> None:
    connection.table("Tenants").update_entity({"PartitionKey": tenant.tenant_id, "RowKey": "provider",
                                               "FhirVersion": "5"})


def _setting_broken(monkeypatch: pytest.MonkeyPatch, *_: object) -> None:
    for name in ("TOKEN_LIFETIME_SECONDS", "MAX_ACTIVE_CLIENT_SECRETS", "UPSTREAM_CONNECT_TIMEOUT_SECONDS"):
        monkeypatch.setenv(name, "not-a-number")


def _upstream(raised: Exception | None = None, status: int | None = None, body: bytes = b"") -> Breaker:
    def send(*_: object, **__: object) -> upstream_client.UpstreamResponse:
        if raised is not None:
            raise raised
        headers = {"Content-Type": "application/fhir+json", "Retry-After": "3"}
        return upstream_client.UpstreamResponse(status or 200, headers, body or b'{"resourceType":"Patient"}', 1.0, 1)

    def breaker(monkeypatch: pytest.MonkeyPatch, *_: object) -> None:
        monkeypatch.setattr(upstream_client, "send", send)
    return breaker


def _upstream_auth(status: int) -> Breaker:
    def headers(tenant: tenants.Tenant) -> dict[str, str]:
        raise UpstreamAuthError(tenant.tenant_id, "the app setting X is not set", status)

    def breaker(monkeypatch: pytest.MonkeyPatch, *_: object) -> None:
        monkeypatch.setattr(forward, "upstream_auth_headers", headers)
        monkeypatch.setattr(upstream_client, "send", _upstream(upstream_client.UpstreamFailure(502, "x")))
    return breaker


BREAKERS: dict[Failure, Breaker] = {
    Failure.REGISTRY_UNAVAILABLE: _storage_down,
    Failure.CLIENT_ENTITY_BROKEN: _client_broken,
    Failure.TENANT_ENTITY_BROKEN: _tenant_broken,
    Failure.SETTING_BROKEN: _setting_broken,
    Failure.UPSTREAM_AUTH_CONFIGURATION: _upstream_auth(502),
    Failure.UPSTREAM_AUTH_TRANSIENT: _upstream_auth(503),
    Failure.PROVIDER_REFUSES_CREDENTIALS: _upstream(status=401),
    Failure.PROVIDER_UNREACHABLE: _upstream(upstream_client.UpstreamFailure(502, "the provider is unreachable")),
    Failure.PROVIDER_BROKEN_ANSWER: _upstream(status=200, body=b"<html>maintenance</html>"),
    Failure.PROVIDER_THROTTLES: _upstream(status=429),
    Failure.PROVIDER_TOO_SLOW: _upstream(upstream_client.UpstreamFailure(504, "too slow")),
    Failure.PROVIDER_BUSY: _upstream(upstream_client.UpstreamFailure(503, "busy", {"Retry-After": "2"})),
}


def _call(surface: Surface, issued: clients.IssuedSecret, tenant: tenants.Tenant, token: str) -> func.HttpResponse:
    if surface is Surface.TOKEN:
        form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
        return token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret)))
    if surface is Surface.SECRETS:
        url = f"{PUBLIC_BASE}/oauth2/clients/{issued.client_id}/secrets"
        return client_secrets_fn.main(function_request("GET", url, b"", basic_auth(issued.client_id, issued.secret),
                                                       route_params={"client_id": issued.client_id}))
    return fhir_proxy_fn.main(function_request("GET", f"{PUBLIC_BASE}/fhir/Patient/1", b"",
                                               {"Authorization": f"Bearer {token}"}))


def _code(surface: Surface, response: func.HttpResponse) -> str:
    body = json_body(response)
    return body["error"] if surface is not Surface.PROXY else body["issue"][0]["code"]


CASES = [(failure, surface, answer) for failure, answers in FAILURE_ANSWERS.items()
         for surface, answer in answers.items()]


def test_every_failure_has_a_way_to_be_caused_here() -> None:
    assert set(BREAKERS) == set(Failure) == set(FAILURE_ANSWERS)


@pytest.mark.parametrize(("failure", "surface", "answer"), CASES,
                         ids=[f"{f.name}-{s.name}" for f, s, _ in CASES])
def test_each_failure_gets_its_one_answer_on_each_surface(
    failure: Failure, surface: Surface, answer: Answer, monkeypatch: pytest.MonkeyPatch,
    make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    token = json_body(_call(Surface.TOKEN, issued, tenant, ""))["access_token"]
    cached.forget_all()
    BREAKERS[failure](monkeypatch, issued, tenant)
    response = _call(surface, issued, tenant, token)
    assert (response.status_code, _code(surface, response)) == (answer.status, answer.code), response.get_body()
    assert ("Retry-After" in response.headers) == answer.retry_after
    assert issued.secret not in response.get_body().decode() and token not in response.get_body().decode()


def _cell(answer: Answer | None) -> str:
    if answer is None:
        return "—"
    return f"{answer.status} `{answer.code}`" + (" + `Retry-After`" if answer.retry_after else "")


def test_the_readme_table_is_the_mapping() -> None:
    text = README.read_text()
    section = text.split("### Failures, per surface", 1)[1]
    table = section[section.index("\n| Failure |") + 1:].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    expected = [[f.value, *(_cell(FAILURE_ANSWERS[f].get(s)) for s in Surface)] for f in Failure]
    assert rows == expected


def test_the_token_endpoint_table_agrees() -> None:
    text = README.read_text()
    for answer in FAILURE_ANSWERS[Failure.TENANT_ENTITY_BROKEN].values():
        if answer.code == "temporarily_unavailable":
            row = re.search(r"^\| `temporarily_unavailable` \| (\d{3})[^|]*\| ([^|]*)\|", text, re.MULTILINE)
            assert row and int(row.group(1)) == answer.status and "broken by hand" in row.group(2)
