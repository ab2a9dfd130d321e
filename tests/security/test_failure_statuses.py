"""Every domain error (registry, settings, upstream authentication, provider) gets the one answer per surface
that the surface's table gives it (shared.oauth.answers for the OAuth surfaces, shared.proxy.failures for the
proxy) - found by class hierarchy, caused for real on the token endpoint, the secrets API and the proxy - and the
README table says the same."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from gateway_env import PUBLIC_BASE
from gateway_testing import MakeClient, MakeTenant, basic_auth, function_request, json_body, token_request

import client_secrets_fn
import fhir_proxy_fn
import token_fn
from shared.error_tables import Table, answer, handled
from shared.oauth.answers import SECRETS_ANSWERS, TOKEN_ANSWERS
from shared.oauth.errors import OAuthError
from shared.outbound import upstream_client, upstream_errors
from shared.outbound.upstream_errors import (
    ProviderBrokenAnswer,
    ProviderBusy,
    ProviderRefusedCredentials,
    ProviderThrottles,
    ProviderTooSlow,
    ProviderUnreachable,
)
from shared.portal.app import PORTAL_ANSWERS
from shared.proxy import forward
from shared.proxy.errors import ProxyError
from shared.proxy.failures import PROXY_ANSWERS
from shared.registry import clients, errors, table_storage, tenants
from shared.registry.errors import MisconfiguredEntity, RegistryError
from shared.registry.service import registry
from shared.settings import SettingError
from shared.upstream_auth import UpstreamAuthError, UpstreamAuthUnavailable

pytestmark = pytest.mark.table_storage

README = Path(__file__).resolve().parents[2] / "README.md"
Breaker = Callable[[pytest.MonkeyPatch, clients.IssuedSecret, tenants.Tenant], None]


# The README's "Failures, per surface" table, as data: what each domain error means, and the surfaces.
class Surface(StrEnum):
    TOKEN = "POST /oauth2/token"
    SECRETS = "/oauth2/clients/{id}/secrets"
    PROXY = "/fhir/{path}"


# What each domain error means, as the README's table says it; each one a surface's table answers has its line.
FAILURES: dict[type[Exception], str] = {
    RegistryError: "Table Storage unreachable, refusing the gateway, or a table missing",
    MisconfiguredEntity: "a client, secret or tenant entity broken by hand",
    SettingError: "an app setting of the gateway missing or malformed",
    UpstreamAuthError: "upstream credentials cannot be made (setting missing, identity provider refuses)",
    UpstreamAuthUnavailable: "the identity provider is unreachable, slow or failing",
    ProviderRefusedCredentials: "the provider answers 401/403 to the gateway's credentials",
    ProviderUnreachable: "the provider is unreachable, resets the connection, or its answer cannot be read",
    ProviderBrokenAnswer: "the provider fails (5xx) or answers something that is not FHIR JSON",
    ProviderTooSlow: "the provider misses the connect timeout or UPSTREAM_DEADLINE_SECONDS",
    ProviderBusy: "the provider answers 503, or the tenant has its maximum of requests in flight",
    ProviderThrottles: "the provider answers 429",
}


ROOTS: tuple[type[Exception], ...] = (
    errors.RegistryError,
    SettingError,
    UpstreamAuthError,
    upstream_errors.UpstreamFailure,
)
# Each surface's one table, beside the surface.
SURFACES: dict[Surface, Table[Any]] = {
    Surface.TOKEN: TOKEN_ANSWERS,
    Surface.SECRETS: SECRETS_ANSWERS,
    Surface.PROXY: PROXY_ANSWERS,
}


@dataclass(frozen=True)
class Answer:
    status: int
    code: str  # the OAuth `error` on the OAuth surfaces, the OperationOutcome issue code on the proxy
    retry_after: bool


def answer_of(error: OAuthError | ProxyError) -> Answer:
    if isinstance(error, OAuthError):
        return Answer(error.status_code, error.error, "Retry-After" in error.headers())
    return Answer(error.status_code, error.issue_type.value, "Retry-After" in error.headers)


# One instance of every domain error class; a new class without one fails the walk below.
EXAMPLES: dict[type[Exception], Exception] = {
    errors.RegistryError: errors.RegistryError("registry failed"),
    errors.EntityNotFound: errors.EntityNotFound("Clients", "c", "client"),
    errors.EntityConflict: errors.EntityConflict("Clients c/client changed"),
    errors.RegistryUnavailable: errors.RegistryUnavailable("Table Storage is unreachable"),
    errors.MisconfiguredEntity: errors.MisconfiguredEntity("Tenants", "t", "provider", "FhirVersion", "is 5"),
    SettingError: SettingError("app setting X must be a whole number"),
    UpstreamAuthError: UpstreamAuthError("t", "the app setting X is not set"),
    UpstreamAuthUnavailable: UpstreamAuthUnavailable("t", "login.example.test is unreachable"),
    upstream_errors.UpstreamFailure: upstream_errors.UpstreamFailure("the provider failed"),
    upstream_errors.ProviderUnreachable: upstream_errors.ProviderUnreachable("the provider is unreachable"),
    upstream_errors.ProviderTooSlow: upstream_errors.ProviderTooSlow("too slow"),
    upstream_errors.ProviderBusy: upstream_errors.ProviderBusy("busy", "2"),
    upstream_errors.ProviderThrottles: upstream_errors.ProviderThrottles("throttled", "3"),
    upstream_errors.ProviderRefusedCredentials: upstream_errors.ProviderRefusedCredentials("HTTP 401"),
    upstream_errors.ProviderBrokenAnswer: upstream_errors.ProviderBrokenAnswer("HTTP 500"),
}


def _every_domain_error() -> set[type[Exception]]:
    found: set[type[Exception]] = set()
    pending: list[type[Exception]] = list(ROOTS)
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def _nearest_row(cls: type[Exception]) -> type[Exception] | None:
    return next((c for c in cls.__mro__ if c in FAILURES), None)


def _surface_answer(surface: Surface, error: Exception) -> Answer | None:
    if not isinstance(error, handled(SURFACES[surface])):
        return None
    return answer_of(answer(SURFACES[surface], error))


def test_every_domain_error_has_an_example_and_a_row() -> None:
    assert set(EXAMPLES) == _every_domain_error()
    # The tables' other rows are the surface's own refusals (OAuth errors, the secret rules), not failures.
    assert set(FAILURES) == {cls for table in SURFACES.values() for cls in table if issubclass(cls, ROOTS)}
    assert all(_nearest_row(cls) is not None for cls in _every_domain_error() - {upstream_errors.UpstreamFailure})


@pytest.mark.parametrize(
    "cls", sorted(_every_domain_error(), key=lambda c: c.__qualname__), ids=lambda c: c.__qualname__
)
def test_each_domain_error_gets_its_nearest_rows_answer_on_every_surface(cls: type[Exception]) -> None:
    row = _nearest_row(cls)
    for surface in Surface:
        got = _surface_answer(surface, EXAMPLES[cls])
        if row is None:  # the root alone is never raised; no surface claims it
            assert got is None
            continue
        assert got == _surface_answer(surface, EXAMPLES[row]), (cls, surface)
        assert (got is None) == (not issubclass(row, handled(SURFACES[surface])))


def test_the_hierarchy_walk_prefers_the_nearest_class() -> None:
    table: dict[type[Exception], Callable[[Any], str]] = {Exception: lambda _: "any", KeyError: lambda _: "key"}
    assert answer(table, KeyError("k")) == "key" and answer(table, IndexError("i")) == "any"
    with pytest.raises(KeyError, match="no answer for BaseException"):
        answer({KeyError: lambda _: "key"}, BaseException())  # type: ignore[arg-type]  # deliberately outside


def test_the_portal_answers_each_registry_and_settings_error_with_its_rows_page() -> None:
    for cls in _every_domain_error():
        error = EXAMPLES[cls]
        if not issubclass(cls, errors.RegistryError | SettingError):
            assert not isinstance(error, handled(PORTAL_ANSWERS)), cls
            continue
        row = _nearest_row(cls)
        assert row in PORTAL_ANSWERS, cls
        page, expected = answer(PORTAL_ANSWERS, error), answer(PORTAL_ANSWERS, EXAMPLES[row])
        assert (page.status, page.title, page.paragraphs) == (503, "Temporarily unavailable", expected.paragraphs)


# --- each failure caused for real, each surface asked over its function folder ---


def _storage_down(monkeypatch: pytest.MonkeyPatch, *_: object) -> None:
    def unreachable(operation: object) -> None:
        raise errors.RegistryUnavailable("Table Storage is unreachable")

    monkeypatch.setattr(table_storage, "call", unreachable)


_REPAIRS: list[Callable[[], None]] = []


@pytest.fixture(autouse=True)
def _repair_broken_entities() -> Iterator[None]:
    """Entities broken in Azurite are put back, so later tests (the portal's lists) never meet them."""
    yield
    while _REPAIRS:
        _REPAIRS.pop()()


def _break_entity(table: str, partition_key: str, row_key: str, column: str, value: str) -> None:
    original = registry().storage.table(table).get_entity(partition_key, row_key)
    _REPAIRS.append(
        lambda: (
            registry()
            .storage.table(table)
            .update_entity({"PartitionKey": partition_key, "RowKey": row_key, column: original[column]})
        )
    )
    registry().storage.table(table).update_entity({"PartitionKey": partition_key, "RowKey": row_key, column: value})


def _client_broken(monkeypatch: pytest.MonkeyPatch, issued: clients.IssuedSecret, _: object) -> None:
    _break_entity("Clients", issued.client_id, "client", "AllowedTenants", "contoso")


def _tenant_broken(monkeypatch: pytest.MonkeyPatch, _: object, tenant: tenants.Tenant) -> None:
    _break_entity("Tenants", tenant.tenant_id, "provider", "FhirVersion", "5")


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


def _upstream_auth(error: type[UpstreamAuthError]) -> Breaker:
    def headers(tenant: tenants.Tenant) -> dict[str, str]:
        raise error(tenant.tenant_id, "the app setting X is not set")

    def breaker(monkeypatch: pytest.MonkeyPatch, *_: object) -> None:
        monkeypatch.setattr(forward, "upstream_auth_headers", headers)
        monkeypatch.setattr(upstream_client, "send", _upstream(upstream_errors.ProviderUnreachable("x")))

    return breaker


# (the domain error it raises, how it is caused, the surfaces that meet it that way)
CAUSES: dict[str, tuple[type[Exception], Breaker, tuple[Surface, ...]]] = {
    "storage_down": (errors.RegistryUnavailable, _storage_down, tuple(Surface)),
    "client_broken": (errors.MisconfiguredEntity, _client_broken, tuple(Surface)),
    "tenant_broken": (errors.MisconfiguredEntity, _tenant_broken, (Surface.TOKEN, Surface.PROXY)),
    "setting_broken": (SettingError, _setting_broken, tuple(Surface)),
    "upstream_auth_configuration": (UpstreamAuthError, _upstream_auth(UpstreamAuthError), (Surface.PROXY,)),
    "upstream_auth_transient": (UpstreamAuthUnavailable, _upstream_auth(UpstreamAuthUnavailable), (Surface.PROXY,)),
    "provider_refuses_credentials": (
        upstream_errors.ProviderRefusedCredentials,
        _upstream(status=401),
        (Surface.PROXY,),
    ),
    "provider_unreachable": (
        upstream_errors.ProviderUnreachable,
        _upstream(upstream_errors.ProviderUnreachable("the provider is unreachable")),
        (Surface.PROXY,),
    ),
    "provider_broken_answer": (
        upstream_errors.ProviderBrokenAnswer,
        _upstream(status=200, body=b"<html>maintenance</html>"),
        (Surface.PROXY,),
    ),
    "provider_throttles": (upstream_errors.ProviderThrottles, _upstream(status=429), (Surface.PROXY,)),
    "provider_too_slow": (
        upstream_errors.ProviderTooSlow,
        _upstream(upstream_errors.ProviderTooSlow("too slow")),
        (Surface.PROXY,),
    ),
    "provider_busy": (
        upstream_errors.ProviderBusy,
        _upstream(upstream_errors.ProviderBusy("busy", "2")),
        (Surface.PROXY,),
    ),
}


def _call(surface: Surface, issued: clients.IssuedSecret, tenant: tenants.Tenant, token: str) -> func.HttpResponse:
    if surface is Surface.TOKEN:
        form = {"grant_type": "client_credentials", "scope": tenant.tenant_id}
        return token_fn.main(token_request(form, basic_auth(issued.client_id, issued.secret)))
    if surface is Surface.SECRETS:
        url = f"{PUBLIC_BASE}/oauth2/clients/{issued.client_id}/secrets"
        return client_secrets_fn.main(
            function_request(
                "GET",
                url,
                b"",
                basic_auth(issued.client_id, issued.secret),
                route_params={"client_id": issued.client_id},
            )
        )
    return fhir_proxy_fn.main(
        function_request("GET", f"{PUBLIC_BASE}/fhir/Patient/1", b"", {"Authorization": f"Bearer {token}"})
    )


def _code(surface: Surface, response: func.HttpResponse) -> str:
    body = json_body(response)
    return body["error"] if surface is not Surface.PROXY else body["issue"][0]["code"]


def test_every_row_is_caused_here_and_every_cause_meets_each_surface_that_answers_it() -> None:
    assert {cls for cls, _, _ in CAUSES.values()} == set(FAILURES) - {errors.RegistryError} | {
        errors.RegistryUnavailable
    }
    for cls, _, surfaces in CAUSES.values():
        assert set(surfaces) <= {s for s in Surface if issubclass(cls, handled(SURFACES[s]))}


CASES = [(name, surface) for name, (_, _, surfaces) in CAUSES.items() for surface in surfaces]


@pytest.mark.parametrize(("cause", "surface"), CASES, ids=[f"{c}-{s.name}" for c, s in CASES])
def test_each_failure_gets_its_one_answer_on_each_surface(
    cause: str, surface: Surface, monkeypatch: pytest.MonkeyPatch, make_tenant: MakeTenant, make_client: MakeClient
) -> None:
    cls, breaker, _ = CAUSES[cause]
    expected = _surface_answer(surface, EXAMPLES[cls])
    assert expected is not None
    tenant = make_tenant()
    issued = make_client(tenant.tenant_id)
    token = json_body(_call(Surface.TOKEN, issued, tenant, ""))["access_token"]
    registry().forget()
    breaker(monkeypatch, issued, tenant)
    response = _call(surface, issued, tenant, token)
    got = Answer(response.status_code, _code(surface, response), "Retry-After" in response.headers)
    assert got == expected, response.get_body()
    assert issued.secret not in response.get_body().decode() and token not in response.get_body().decode()


# --- the README says what the tables say ---


def _cell(answer: Answer | None) -> str:
    if answer is None:
        return "—"
    return f"{answer.status} `{answer.code}`" + (" + `Retry-After`" if answer.retry_after else "")


def test_the_readme_table_is_the_mapping() -> None:
    text = README.read_text()
    section = text.split("### Failures, per surface", 1)[1]
    table = section[section.index("\n| Failure |") + 1 :].split("\n\n", 1)[0]
    header, _, *lines = table.splitlines()
    assert [cell.strip() for cell in header.strip("|").split("|")][2:] == [f"`{s.value}`" for s in Surface]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    expected = [
        [description, f"`{cls.__name__}`", *(_cell(_surface_answer(s, EXAMPLES[cls])) for s in Surface)]
        for cls, description in FAILURES.items()
    ]
    assert rows == expected


def test_the_token_endpoint_table_agrees() -> None:
    text = README.read_text()
    broken = _surface_answer(Surface.TOKEN, EXAMPLES[errors.MisconfiguredEntity])
    assert broken is not None and broken.code == "temporarily_unavailable"
    row = re.search(r"^\| `temporarily_unavailable` \| (\d{3})[^|]*\| ([^|]*)\|", text, re.MULTILINE)
    assert row and int(row.group(1)) == broken.status and "broken by hand" in row.group(2)
