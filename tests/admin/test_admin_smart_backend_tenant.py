"""`tenant set --auth smart_backend` and hand-edited smart_backend rows: defaults, required columns, clear errors."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from admin.cli import main
from shared.registry import tenants
from shared.registry.errors import MisconfiguredEntity
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage

FHIR = "https://localhost/api/FHIR/R4"


def run(*argv: str) -> tuple[int, Any, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--json", *argv], out=out, err=err)
    return status, json.loads(out.getvalue()) if status == 0 else None, err.getvalue()


@pytest.fixture
def tenant_id() -> Iterator[str]:
    value = str(uuid.uuid4())
    yield value
    if registry().load_tenant(value):
        registry().remove_tenant(value)


def test_smart_backend_needs_the_client_id_the_ehr_assigned(tenant_id: str) -> None:
    status, _, err = run(
        "tenant", "set", tenant_id, "--fhir-url", FHIR, "--fhir-version", "R4", "--auth", "smart_backend"
    )
    assert status == 2 and "--upstream-client-id" in err and "EHR" in err
    assert registry().load_tenant(tenant_id) is None, "nothing saved"


def test_smart_backend_defaults_to_v2_system_scopes_and_discovery(tenant_id: str) -> None:
    status, created, err = run(
        "tenant", "set", tenant_id, "--fhir-url", FHIR, "--fhir-version", "R4",
        "--auth", "smart_backend", "--upstream-client-id", "epic-client-1",
    )  # fmt: skip
    assert status == 0, err
    assert created["auth"] == "smart_backend" and created["upstream_client_id"] == "epic-client-1"
    assert created["scope"] == "system/*.rs" and "token_url" not in created
    status, changed, err = run(
        "tenant", "set", tenant_id, "--scope", "system/*.read", "--token-url", "https://localhost/oauth2/token/"
    )
    assert status == 0, err
    assert changed["scope"] == "system/*.read" and changed["token_url"] == "https://localhost/oauth2/token"
    stored = registry().get_tenant(tenant_id).auth
    assert (stored.scope, stored.token_url) == ("system/*.read", "https://localhost/oauth2/token")
    status, kept, _ = run("tenant", "set", tenant_id, "--name", "Renamed")
    assert status == 0 and kept["scope"] == "system/*.read", "a custom scope survives other changes"


def test_another_method_does_not_inherit_the_smart_scope(tenant_id: str) -> None:
    run("tenant", "set", tenant_id, "--fhir-url", FHIR, "--fhir-version", "R4", "--auth", "smart_backend",
        "--upstream-client-id", "c1")  # fmt: skip
    status, changed, err = run("tenant", "set", tenant_id, "--auth", "managed_identity")
    assert status == 0, err
    assert changed["scope"] == FHIR + "/.default"


@pytest.mark.parametrize("url", ["ftp://ehr.example.org/token", "https://user:pw@ehr.example.org/token", "token"])
def test_an_unusable_token_url_is_refused_by_name(tenant_id: str, url: str) -> None:
    status, _, err = run(
        "tenant", "set", tenant_id, "--fhir-url", FHIR, "--fhir-version", "R4", "--auth", "smart_backend",
        "--upstream-client-id", "c1", "--token-url", url,
    )  # fmt: skip
    assert status == 2 and "--token-url" in err


def _entity(**columns: Any) -> dict[str, Any]:
    return {
        "PartitionKey": str(uuid.uuid4()),
        "RowKey": "provider",
        "FhirBaseUrl": FHIR,
        "FhirVersion": "R4",
        "AuthMethod": "smart_backend",
        **columns,
    }


def test_a_hand_edited_row_reads_with_the_smart_defaults() -> None:
    tenant = tenants.parse_tenant(_entity(UpstreamClientId="c1"), allow_private_addresses=False)
    assert tenant.auth.scope == "system/*.rs" and tenant.auth.token_url == ""


@pytest.mark.parametrize(
    ("columns", "column"),
    [({}, "UpstreamClientId"), ({"UpstreamClientId": "c1", "TokenUrl": "javascript:alert(1)"}, "TokenUrl")],
)
def test_a_broken_hand_edited_row_names_the_column(columns: dict[str, str], column: str) -> None:
    with pytest.raises(MisconfiguredEntity, match=column):
        tenants.parse_tenant(_entity(**columns), allow_private_addresses=False)
