"""Entities that admins broke by hand give errors naming the table, the entity and the column."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from gateway_testing import MakeClient, MakeTenant

from shared.registry.errors import EntityConflict, MisconfiguredEntity
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


def write_tenant(**columns: Any) -> str:
    tenant_id = str(uuid.uuid4())
    entity = {
        "PartitionKey": tenant_id,
        "RowKey": "provider",
        "FhirBaseUrl": "https://ehr.example.org/fhir",
        "FhirVersion": "STU3",
        "AuthMethod": "none",
        **columns,
    }
    registry().storage.table("Tenants").upsert_entity({k: v for k, v in entity.items() if v is not None})
    return tenant_id


@pytest.mark.parametrize(
    ("columns", "column"),
    [
        ({"FhirBaseUrl": None}, "FhirBaseUrl"),
        ({"FhirBaseUrl": "ehr.example.org/fhir"}, "FhirBaseUrl"),
        ({"FhirBaseUrl": "https://user:pw@ehr.example.org/fhir"}, "FhirBaseUrl"),
        ({"FhirVersion": "5"}, "FhirVersion"),
        ({"FhirVersion": 3}, "FhirVersion"),
        ({"AuthMethod": "kerberos"}, "AuthMethod"),
        ({"AuthMethod": "azure_ad", "UpstreamClientId": "x", "SecretSetting": "S"}, "Authority"),
        ({"AuthMethod": "bearer", "SecretSetting": "TOKEN_SIGNING_KEY"}, "SecretSetting"),
        ({"AuthMethod": "bearer", "SecretSetting": "PORTAL_SESSION_KEY"}, "SecretSetting"),
        ({"AuthMethod": "bearer", "SecretSetting": "SOME_OTHER_SETTING"}, "SecretSetting"),
        ({"AuthMethod": "bearer", "ProviderSecret": "token-signing-key"}, "ProviderSecret"),
        ({"FhirBaseUrl": "http://169.254.169.254/metadata"}, "FhirBaseUrl"),
        (
            {"AuthMethod": "oauth_client_credentials", "UpstreamClientId": "c", "TokenUrl": "http://[fd00:ec2::254]/t"},
            "TokenUrl",
        ),
        ({"AuthMethod": "oauth_client_credentials", "UpstreamClientId": "c"}, "TokenUrl"),
        (
            {
                "AuthMethod": "oauth_client_credentials",
                "UpstreamClientId": "c",
                "TokenUrl": "https://a.test/t",
                "ClientAuthMethod": "private_key_jwt",
            },
            "ClientAuthMethod",
        ),
        ({"AuthMethod": "bearer", "SecretSetting": "has spaces"}, "SecretSetting"),
        ({"Enabled": "maybe"}, "Enabled"),
        ({"AllowedResourceTypes": "Patient,drop table"}, "AllowedResourceTypes"),
    ],
)
def test_broken_tenant_columns_are_named(columns: dict[str, Any], column: str) -> None:
    tenant_id = write_tenant(**columns)
    try:
        with pytest.raises(MisconfiguredEntity) as raised:
            registry().load_tenant(tenant_id)
        assert raised.value.column == column and raised.value.table == "Tenants"
        assert tenant_id in str(raised.value) and column in str(raised.value)
    finally:
        registry().storage.table("Tenants").delete_entity(tenant_id, "provider")


def test_hand_typed_text_flags_are_read() -> None:
    tenant_id = write_tenant(Enabled="FALSE", AllowedResourceTypes="Patient, Observation")
    try:
        tenant = registry().get_tenant(tenant_id)
        assert tenant.enabled is False and tenant.allowed_resource_types == ("Patient", "Observation")
    finally:
        registry().storage.table("Tenants").delete_entity(tenant_id, "provider")


def test_broken_client_columns_are_named(make_client: MakeClient) -> None:
    issued = make_client()
    registry().storage.table("Clients").update_entity(
        {"PartitionKey": issued.client_id, "RowKey": "client", "AllowedTenants": "contoso"}
    )
    with pytest.raises(MisconfiguredEntity, match="AllowedTenants"):
        registry().load_client(issued.client_id)
    registry().storage.table("Clients").update_entity(
        {"PartitionKey": issued.client_id, "RowKey": "secret-" + issued.secret_id, "SecretSha256": "xyz"}
    )
    registry().storage.table("Clients").update_entity(
        {"PartitionKey": issued.client_id, "RowKey": "client", "AllowedTenants": "*"}
    )
    with pytest.raises(MisconfiguredEntity, match="SecretSha256"):
        registry().load_client(issued.client_id)


def test_a_stale_write_is_refused_by_its_etag(make_tenant: MakeTenant) -> None:
    from dataclasses import replace

    tenant = make_tenant()
    registry().save_tenant(replace(tenant, display_name="first writer"))
    with pytest.raises(EntityConflict):
        registry().save_tenant(replace(tenant, display_name="second writer, stale etag"))
    assert registry().get_tenant(tenant.tenant_id).display_name == "first writer"


def test_creating_an_existing_tenant_is_a_conflict(make_tenant: MakeTenant) -> None:
    from dataclasses import replace

    tenant = make_tenant()
    with pytest.raises(EntityConflict):
        registry().save_tenant(replace(tenant, etag=None))
