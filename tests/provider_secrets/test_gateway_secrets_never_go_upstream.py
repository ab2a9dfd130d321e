"""The High finding: an operator names a gateway setting as a tenant's upstream secret and points the tenant at their
own server. Refused everywhere (CLI, portal, a hand-edited row), and the listener receives nothing.

On the main branch before the fix `tenant set ... --secret-setting TOKEN_SIGNING_KEY` succeeded and `tenant check`
sent `Authorization: Basic base64("x:-----BEGIN PRIVATE KEY-----...")` to the listener.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator

import pytest
from exfiltration_listener import Listener
from portal_env import PortalDriver, PortalSetup, portal, portal_setup  # noqa: F401 - fixtures

from admin.cli import main
from shared.registry import tenants
from shared.registry.service import registry
from shared.registry.storage import Delete, Insert

pytestmark = pytest.mark.table_storage

GATEWAY_SECRETS = ("TOKEN_SIGNING_KEY", "PORTAL_SESSION_KEY", "REGISTRY_CONNECTION_STRING", "PORTAL_CLIENT_SECRET")


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


@pytest.fixture
def tenant_id() -> Iterator[str]:
    value = str(uuid.uuid4())
    yield value
    if registry().storage.row(tenants.TABLE, value, tenants.PROVIDER_ROW) is not None:
        registry().storage.commit(tenants.TABLE, [Delete(value, tenants.PROVIDER_ROW)])
        registry().cache.forget_tenant(value)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err, stdin=io.StringIO("")), out.getvalue(), err.getvalue()


def _assert_nothing_leaked(listener: Listener) -> None:
    sent = listener.authorizations()
    assert sent == [], "the gateway sent credentials to the operator's listener"
    for name in GATEWAY_SECRETS:
        value = os.environ.get(name, "")
        assert not value or all(value not in a for a in sent)


def _hand_edited_row(tenant_id: str, listener: Listener, setting: str) -> None:
    """What a person with Storage Explorer could write: the parser is bypassed on the way in."""
    entity = {
        "PartitionKey": tenant_id,
        "RowKey": tenants.PROVIDER_ROW,
        "FhirBaseUrl": listener.fhir_url,
        "FhirVersion": "STU3",
        "AuthMethod": "basic",
        "Username": "x",
        "SecretSetting": setting,
    }
    registry().storage.commit(tenants.TABLE, [Insert(entity)])


@pytest.mark.parametrize("setting", GATEWAY_SECRETS)
def test_the_command_line_refuses_a_gateway_setting_and_the_check_sends_nothing(
    setting: str, listener: Listener, tenant_id: str
) -> None:
    status, _, err = cli(
        "tenant", "set", tenant_id, "--fhir-url", listener.fhir_url, "--fhir-version", "STU3",
        "--auth", "basic", "--username", "x", "--secret-setting", setting,
    )  # fmt: skip
    assert status == 2 and f"names {setting}, a setting of the gateway itself" in err
    assert registry().load_tenant(tenant_id) is None
    _hand_edited_row(tenant_id, listener, setting)
    status, _, err = cli("tenant", "check", tenant_id)
    assert status != 0 and "SecretSetting" in err and "a setting of the gateway itself" in err
    _assert_nothing_leaked(listener)


@pytest.mark.parametrize("setting", ["AzureWebJobsStorage", "IDENTITY_HEADER", "AZURE_CLIENT_SECRET", "PATH"])
def test_any_setting_outside_the_provider_namespace_is_refused(
    setting: str, listener: Listener, tenant_id: str
) -> None:
    status, _, err = cli(
        "tenant", "set", tenant_id, "--fhir-url", listener.fhir_url, "--fhir-version", "STU3",
        "--auth", "bearer", "--secret-setting", setting,
    )  # fmt: skip
    assert status == 2 and "outside the provider namespace (UPSTREAM_SECRET_*)" in err
    _hand_edited_row(tenant_id, listener, setting)
    assert cli("tenant", "check", tenant_id)[0] != 0
    _assert_nothing_leaked(listener)


@pytest.mark.parametrize("setting", GATEWAY_SECRETS)
def test_the_portal_refuses_a_gateway_setting_and_its_check_sends_nothing(
    setting: str,
    portal: PortalSetup,  # noqa: F811 - fixture
    listener: Listener,
    tenant_id: str,
) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.operator())
    driver.get("operator/tenants/new")
    form = {
        "tenant_id": tenant_id,
        "fhir_url": listener.fhir_url,
        "fhir_version": "STU3",
        "auth": "basic",
        "username": "x",
        "secret_setting": setting,
        "enabled": "yes",
    }
    answer = driver.post("operator/tenants", form)
    page = answer.body.decode()
    assert answer.status == 400 and f"names {setting}, a setting of the gateway itself" in page
    assert registry().load_tenant(tenant_id) is None
    _hand_edited_row(tenant_id, listener, setting)
    driver.get("operator")
    checked = driver.post(f"operator/tenants/{tenant_id}/check", {})
    assert checked.status in (400, 503)
    _assert_nothing_leaked(listener)
