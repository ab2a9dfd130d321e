"""`tenant check` reports success or a category of failure, never the provider's answer, and calls no refused address;
the proxy's upstream connections check the address they reach (DNS rebinding)."""

from __future__ import annotations

import socket

import pytest
from exfiltration_listener import Listener
from gateway_testing import MakeTenant

from shared.onboarding.tenant_check import check_tenant
from shared.outbound import upstream_client
from shared.outbound.upstream_errors import ProviderUnreachable

SECRET_BODY = b"internal-service-banner: do-not-leak-this"


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (401, SECRET_BODY, "refused_credentials"),
        (403, SECRET_BODY, "refused_credentials"),
        (200, SECRET_BODY, "not_fhir"),
        (500, SECRET_BODY, "not_fhir"),
        (404, b'{"resourceType": "OperationOutcome", "issue": [{"diagnostics": "do-not-leak-this"}]}', "not_fhir"),
    ],
)
def test_a_failing_provider_is_a_category_without_its_answer(
    make_tenant: MakeTenant, status: int, body: bytes, category: str
) -> None:
    with Listener(status, body) as listener:
        report = check_tenant(make_tenant(listener.fhir_url))
    assert report["ok"] is False and report["category"] == category
    assert "do-not-leak-this" not in repr(report) and str(status) not in repr(report.get("problems"))


def test_a_closed_port_is_unreachable(make_tenant: MakeTenant) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = check_tenant(make_tenant(f"http://127.0.0.1:{port}/fhir"))
    assert report["category"] == "unreachable" and report["reachable"] is False


def test_a_working_provider_passes(make_tenant: MakeTenant) -> None:
    with Listener() as listener:
        report = check_tenant(make_tenant(listener.fhir_url))
    assert report["ok"] is True and "category" not in report and report["announced_version"] == "3.0.2"


def test_where_private_addresses_are_not_allowed_the_check_calls_nothing(
    make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Listener() as listener:
        tenant = make_tenant(listener.fhir_url.replace("127.0.0.1", "localhost"))
        monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
        report = check_tenant(tenant)
    assert report["category"] == "address_refused" and listener.received == []


def test_the_upstream_client_refuses_a_name_that_now_resolves_to_a_refused_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name passed when the tenant was saved; at connect time it leads to loopback, refused in this deployment."""
    with Listener() as listener:
        monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "false")
        with pytest.raises(ProviderUnreachable, match="address is refused: loopback and private addresses"):
            upstream_client.send("GET", listener.fhir_url.replace("127.0.0.1", "localhost") + "/metadata", {})
        assert listener.received == []
        monkeypatch.setenv("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "true")
        assert upstream_client.send("GET", listener.fhir_url + "/metadata", {}).status_code == 200
