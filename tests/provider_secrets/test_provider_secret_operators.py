"""Operators enter, replace, remove and migrate a provider secret (admin CLI on stdin, portal form); the value
reaches the provider and the vault, never a table row, an output, a page or an audit record."""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterator

import pytest
from exfiltration_listener import Listener
from log_leak_scan import remember_secret
from portal_env import PortalDriver, PortalSetup, audit_records, portal, portal_setup  # noqa: F401 - fixtures
from vault_testing import VaultSetup

from admin.cli import main
from shared.provider_secrets.names import provider_secret_name
from shared.registry import tenants
from shared.registry.service import registry
from shared.registry.storage import Delete, Insert

pytestmark = pytest.mark.table_storage


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


def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err, stdin=io.StringIO(stdin)), out.getvalue(), err.getvalue()


def _secret() -> str:
    value = "prov-" + uuid.uuid4().hex
    remember_secret(value)
    return value


def _raw_row(tenant_id: str) -> str:
    row = registry().storage.row(tenants.TABLE, tenant_id, tenants.PROVIDER_ROW)
    assert row is not None
    return json.dumps(row.entity, default=str)


def test_the_command_line_stores_replaces_and_removes_a_secret(
    provider_vault: VaultSetup, listener: Listener, tenant_id: str
) -> None:
    status, _, err = cli(
        "tenant", "set", tenant_id, "--fhir-url", listener.fhir_url, "--fhir-version", "STU3", "--auth", "bearer"
    )
    assert status == 0, err
    first, second = _secret(), _secret()
    status, out, err = cli("--json", "tenant", "secret", "set", tenant_id, stdin=first + "\n")
    assert status == 0, err
    assert json.loads(out)["provider_secret"] == provider_secret_name(tenant_id)
    assert first not in out + err and first not in _raw_row(tenant_id)
    assert provider_vault.vault.value_of(provider_secret_name(tenant_id)) == first
    assert cli("tenant", "check", tenant_id)[0] == 0
    assert listener.authorizations()[-1] == f"Bearer {first}"
    assert cli("tenant", "secret", "set", tenant_id, stdin=second)[0] == 0
    assert cli("tenant", "check", tenant_id)[0] == 0
    assert listener.authorizations()[-1] == f"Bearer {second}"  # replaced at once on this instance
    shown = cli("--json", "tenant", "show", tenant_id)[1]
    assert second not in shown and json.loads(shown)["provider_secret"] == provider_secret_name(tenant_id)
    assert cli("tenant", "secret", "remove", tenant_id)[0] == 0
    assert provider_vault.vault.names() == []
    sent = len(listener.authorizations())
    status, _, err = cli("tenant", "check", tenant_id)
    assert status == 5 and "needs the provider's secret" in err
    assert len(listener.authorizations()) == sent


def test_an_empty_stdin_stores_nothing(provider_vault: VaultSetup, listener: Listener, tenant_id: str) -> None:
    cli("tenant", "set", tenant_id, "--fhir-url", listener.fhir_url, "--fhir-version", "STU3", "--auth", "bearer")
    status, _, err = cli("tenant", "secret", "set", tenant_id, stdin="\n")
    assert status == 2 and "no secret on standard input" in err
    assert provider_vault.vault.names() == []


def _legacy_row(tenant_id: str, listener: Listener, setting: str) -> None:
    entity = {
        "PartitionKey": tenant_id,
        "RowKey": tenants.PROVIDER_ROW,
        "FhirBaseUrl": listener.fhir_url,
        "FhirVersion": "STU3",
        "AuthMethod": "basic",
        "Username": "gateway",
        "SecretSetting": setting,
    }
    registry().storage.commit(tenants.TABLE, [Insert(entity)])


def test_migration_moves_an_upstream_secret_setting_into_the_vault(
    provider_vault: VaultSetup, listener: Listener, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = _secret()
    monkeypatch.setenv("UPSTREAM_SECRET_MIGRATED", value)
    _legacy_row(tenant_id, listener, "UPSTREAM_SECRET_MIGRATED")
    assert cli("tenant", "check", tenant_id)[0] == 0  # a legacy tenant in the provider namespace keeps working
    status, out, err = cli("--json", "tenant", "secret", "migrate", tenant_id, "--from-environment")
    assert status == 0, err
    migrated = registry().get_tenant(tenant_id)
    assert migrated.auth.secret_setting == "" and migrated.auth.provider_secret == provider_secret_name(tenant_id)
    assert value not in out + _raw_row(tenant_id)
    monkeypatch.delenv("UPSTREAM_SECRET_MIGRATED")  # the app setting can go: the vault serves the tenant now
    assert cli("tenant", "check", tenant_id)[0] == 0
    expected = base64.b64encode(f"gateway:{value}".encode()).decode()
    assert listener.authorizations()[-1] == f"Basic {expected}"


def test_migration_from_stdin_repairs_a_tenant_whose_setting_is_now_refused(
    provider_vault: VaultSetup, listener: Listener, tenant_id: str
) -> None:
    _legacy_row(tenant_id, listener, "OLD_PROVIDER_PASSWORD")
    assert cli("tenant", "check", tenant_id)[0] == 1  # refused: outside the provider namespace
    value = _secret()
    assert cli("tenant", "secret", "migrate", tenant_id, stdin=value)[0] == 0
    assert cli("tenant", "check", tenant_id)[0] == 0
    assert listener.authorizations()[-1] == "Basic " + base64.b64encode(f"gateway:{value}".encode()).decode()


def test_migration_never_reads_a_gateway_setting(
    provider_vault: VaultSetup, listener: Listener, tenant_id: str
) -> None:
    _legacy_row(tenant_id, listener, "TOKEN_SIGNING_KEY")
    status, _, err = cli("tenant", "secret", "migrate", tenant_id, "--from-environment")
    assert status == 1 and "a setting of the gateway itself" in err
    assert provider_vault.vault.names() == [] and listener.authorizations() == []


def test_an_operator_stores_replaces_and_removes_a_secret_in_the_portal(
    portal: PortalSetup,  # noqa: F811 - fixture
    provider_vault: VaultSetup,
    listener: Listener,
    tenant_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="gateway.audit")
    cli("tenant", "set", tenant_id, "--fhir-url", listener.fhir_url, "--fhir-version", "STU3", "--auth", "bearer")
    driver = PortalDriver()
    driver.sign_in(portal.operator())
    value = _secret()
    assert "None stored" in driver.get(f"operator/tenants/{tenant_id}").body.decode()
    stored = driver.post(f"operator/tenants/{tenant_id}/secret", {"action": "set", "secret": value})
    assert stored.status == 303 and stored.header("Location").endswith("done=secret-stored")
    page = driver.get(f"operator/tenants/{tenant_id}", done="secret-stored").body.decode()
    assert provider_secret_name(tenant_id) in page and value not in page and "never shown again" in page
    report = driver.post(f"operator/tenants/{tenant_id}/check", {})
    assert report.status == 200 and value not in report.body.decode()
    assert listener.authorizations()[-1] == f"Bearer {value}"
    driver.get(f"operator/tenants/{tenant_id}")
    refused = driver.post(f"operator/tenants/{tenant_id}/secret", {"action": "set", "secret": "  "})
    assert refused.status == 400 and "the secret is empty" in refused.body.decode()
    driver.get(f"operator/tenants/{tenant_id}")
    assert driver.post(f"operator/tenants/{tenant_id}/secret", {"action": "remove"}).status == 303
    assert provider_vault.vault.names() == [] and registry().get_tenant(tenant_id).auth.provider_secret == ""
    records = audit_records(caplog)
    assert [r["outcome"] for r in records if r["audit"] == "portal.operator.tenant.secret"] == [
        "succeeded",
        "refused",
        "succeeded",
    ]
    assert value not in json.dumps(records)


def test_an_operator_onboards_an_oauth_client_credentials_tenant_and_bad_token_urls_are_refused(
    portal: PortalSetup,  # noqa: F811 - fixture
    tenant_id: str,
) -> None:
    driver = PortalDriver()
    driver.sign_in(portal.operator())
    driver.get("operator/tenants/new")
    form = {
        "tenant_id": tenant_id,
        "fhir_url": "https://localhost:9/fhir",
        "fhir_version": "R4",
        "auth": "oauth_client_credentials",
        "upstream_client_id": "gateway-at-ehr",
        "token_url": "http://169.254.169.254/oauth2/token",
        "client_auth": "client_secret_post",
        "scope": "system/*.read",
        "enabled": "yes",
    }
    refused = driver.post("operator/tenants", form)
    assert refused.status == 400 and "Token URL is refused: link-local and cloud-metadata" in refused.body.decode()
    assert registry().load_tenant(tenant_id) is None
    driver.get("operator/tenants/new")
    assert driver.post("operator/tenants", form | {"token_url": "https://localhost:9/oauth2/token"}).status == 303
    saved = registry().get_tenant(tenant_id).auth
    assert (saved.method, saved.token_url, saved.client_auth, saved.scope) == (
        "oauth_client_credentials",
        "https://localhost:9/oauth2/token",
        "client_secret_post",
        "system/*.read",
    )
