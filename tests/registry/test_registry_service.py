"""The registry as one service: built once from the settings, storage chosen through one seam, one verb per
operation with its rules, and one table of what each upstream authentication method needs."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from gateway_testing import MakeClient, function_request, json_body

import health_fn
from admin.cli import main as admin
from shared import process_state, settings
from shared.fhir.versions import FhirVersion
from shared.onboarding.tenant_edit import TenantOptionError, TenantOptions, methods_help, set_tenant
from shared.registry import tenants
from shared.registry.errors import MisconfiguredEntity
from shared.registry.memory_storage import MemoryStorage
from shared.registry.secret_rules import SecretConflict
from shared.registry.service import build, registry, use_storage

FHIR = "https://localhost/fhir"
# A value for each column a method may require (the table names the columns; these make them complete).
COLUMN_VALUES = {
    "Authority": "https://localhost/contoso",
    "UpstreamClientId": "upstream-app",
    "Username": "gateway",
    "TokenUrl": "https://localhost/token",
}
OPTION_NAMES = {
    "Authority": "authority",
    "UpstreamClientId": "upstream_client_id",
    "Username": "username",
    "TokenUrl": "token_url",
}


def test_the_service_is_built_from_the_settings_handed_in_and_again_after_a_reload(
    monkeypatch: pytest.MonkeyPatch, memory_registry: MemoryStorage
) -> None:
    first = registry()
    assert registry() is first  # one instance per process, not one per call
    assert first.cache.ttl_seconds == settings.current().registry_cache_ttl_seconds
    monkeypatch.setenv("REGISTRY_CACHE_TTL_SECONDS", "7")
    monkeypatch.setenv("MAX_ACTIVE_CLIENT_SECRETS", "5")
    rebuilt = registry()
    assert rebuilt is not first and rebuilt.cache.ttl_seconds == 7 and rebuilt.max_active_secrets == 5
    assert rebuilt.storage is memory_registry  # the storage the test chose survives the rebuild
    built = build(settings.current(), MemoryStorage())
    assert built.cache.ttl_seconds == 7 and built.storage is not memory_registry


def test_the_storage_seam_swaps_the_store_and_a_reset_drops_only_the_cached_reads(make_client: MakeClient) -> None:
    issued = make_client()
    assert registry().client(issued.client_id) is not None
    other = MemoryStorage()
    use_storage(other)
    assert registry().storage is other and registry().client(issued.client_id) is None
    calls = other.calls
    process_state.reset()
    assert registry().storage is other and other.calls == calls


def test_health_probes_the_registry_through_the_service(memory_registry: MemoryStorage) -> None:
    # An unmarked test names no Table Storage location (a settings problem of its own); the registry check
    # asks the registry in use, whatever it is.
    assert json_body(health_fn.main(function_request("GET")))["checks"]["registry"] == "reachable"
    memory_registry.unavailable = True
    response = health_fn.main(function_request("GET"))
    assert response.status_code == 503 and json_body(response)["checks"]["registry"] == "unreachable"


def test_one_add_secret_verb_keeps_the_cap_for_clients_and_lets_an_operator_past_it(make_client: MakeClient) -> None:
    issued = make_client()
    registry().add_secret(issued.client_id)
    with pytest.raises(SecretConflict, match="most allowed"):
        registry().add_secret(issued.client_id)
    operator_added = registry().add_secret(issued.client_id, operator=True)
    assert len(registry().get_client(issued.client_id).secrets) == 3
    assert registry().get_client(issued.client_id).secret(operator_added.secret_id) is not None


def test_one_revoke_verb_protects_the_last_secret_unless_an_operator_revokes_it(make_client: MakeClient) -> None:
    issued = make_client()
    with pytest.raises(SecretConflict, match="last active secret"):
        registry().revoke_secret(issued.client_id, issued.secret_id)
    revoked = registry().revoke_secret(issued.client_id, issued.secret_id, operator=True)
    state = registry().client(issued.client_id)
    assert revoked.revoked and state is not None and state.secret(issued.secret_id).revoked
    assert registry().revoke_secret(issued.client_id, issued.secret_id, operator=True).revoked  # idempotent


def test_the_method_table_drives_which_methods_need_a_provider_secret() -> None:
    assert tenants.AUTH_METHODS == tuple(m.name for m in tenants.AUTH_METHOD_TABLE)
    assert set(tenants.SECRET_METHODS) == {"basic", "bearer", "azure_ad", "oauth_client_credentials"}
    for method in tenants.AUTH_METHOD_TABLE:
        assert method.name in methods_help()


def _entity(method: str, **columns: str) -> dict[str, Any]:
    return {
        "PartitionKey": str(uuid.uuid4()),
        "RowKey": "provider",
        "FhirBaseUrl": FHIR,
        "FhirVersion": "R4",
        "AuthMethod": method,
        **columns,
    }


REQUIRED = [(m.name, column) for m in tenants.AUTH_METHOD_TABLE for column in m.required]


@pytest.mark.parametrize(("method", "column"), REQUIRED, ids=[f"{m}-{c}" for m, c in REQUIRED])
def test_each_required_column_is_required_by_the_parser_the_command_line_and_the_portal_alike(
    method: str, column: str
) -> None:
    needed = tenants.auth_method(method)
    assert needed is not None
    complete = {c: COLUMN_VALUES[c] for c in needed.required}
    tenants.parse_tenant(_entity(method, **complete), allow_private_addresses=False)  # complete: it reads
    missing = {c: v for c, v in complete.items() if c != column}
    with pytest.raises(MisconfiguredEntity, match=column):
        tenants.parse_tenant(_entity(method, **missing), allow_private_addresses=False)
    options = {OPTION_NAMES[c]: v for c, v in missing.items()}
    with pytest.raises(TenantOptionError, match=f"--auth {method} needs .*--{OPTION_NAMES[column].replace('_', '-')}"):
        set_tenant(TenantOptions(str(uuid.uuid4()), fhir_url=FHIR, fhir_version="R4", auth=method, **options))
    err = io.StringIO()
    argv = ["tenant", "set", str(uuid.uuid4()), "--fhir-url", FHIR, "--fhir-version", "R4", "--auth", method]
    argv += [arg for name, value in options.items() for arg in ("--" + name.replace("_", "-"), value)]
    assert admin(argv, out=io.StringIO(), err=err) == 2
    assert f"--auth {method} needs" in err.getvalue()


def test_a_complete_tenant_of_each_method_is_saved(memory_registry: MemoryStorage) -> None:
    for method in tenants.AUTH_METHOD_TABLE:
        options = {OPTION_NAMES[c]: COLUMN_VALUES[c] for c in method.required}
        saved = set_tenant(
            TenantOptions(str(uuid.uuid4()), fhir_url=FHIR, fhir_version="R4", auth=method.name, **options)
        )
        assert saved.auth.method == method.name and saved.fhir_version is FhirVersion.R4
        assert tenants.missing_columns(saved) == ()
    assert json.dumps(sorted(t.auth.method for t in registry().list_tenants())) == json.dumps(
        sorted(tenants.AUTH_METHODS)
    )
