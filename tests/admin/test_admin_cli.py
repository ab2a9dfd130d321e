"""The admin command line against Azurite: onboarding, rotation, clear errors and exit codes."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest

from admin.cli import main
from shared.registry.service import registry

pytestmark = pytest.mark.table_storage


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def run_json(*argv: str) -> Any:
    status, out, err = run("--json", *argv)
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def tenant_id() -> Any:
    value = str(uuid.uuid4())
    yield value
    if registry().load_tenant(value):
        registry().remove_tenant(value)


@pytest.fixture
def client_id() -> Any:
    created = run_json("client", "create", "--name", "Patients app")
    yield created
    registry().delete_client(created["client_id"])


def test_client_create_prints_the_secret_once_and_stores_only_its_hash(client_id: dict[str, Any]) -> None:
    assert len(client_id["client_secret"]) >= 43  # 256 bits, base64url
    state = registry().get_client(client_id["client_id"])
    assert state.client.display_name == "Patients app" and state.client.allowed_tenants == ("*",)
    assert client_id["client_secret"] not in json.dumps([s.sha256 for s in state.secrets])
    shown = run_json("client", "show", client_id["client_id"])
    assert "client_secret" not in json.dumps(shown) and "sha256" not in json.dumps(shown).lower()


def test_secret_rotation_keeps_the_old_secret_until_it_is_revoked(client_id: dict[str, Any]) -> None:
    cid = client_id["client_id"]
    added = run_json("client", "secret", "add", cid, "--expires-days", "30")
    listed = run_json("client", "secret", "list", cid)
    assert {s["secret_id"] for s in listed} == {client_id["secret_id"], added["secret_id"]}
    assert all(not s["revoked"] for s in listed)
    assert next(s for s in listed if s["secret_id"] == added["secret_id"])["expires"]
    revoked = run_json("client", "secret", "revoke", cid, client_id["secret_id"])
    assert revoked["revoked"] is True and revoked["revoked_at"]
    assert "SecretSha256" not in json.dumps(run_json("client", "secret", "list", cid))


def test_client_disable_and_enable(client_id: dict[str, Any]) -> None:
    assert run_json("client", "disable", client_id["client_id"])["enabled"] is False
    assert run_json("client", "enable", client_id["client_id"])["enabled"] is True
    assert client_id["client_id"] in {c["client_id"] for c in run_json("client", "list")}


def test_tenant_set_show_list_and_remove(tenant_id: str) -> None:
    created = run_json(
        "tenant",
        "set",
        tenant_id,
        "--fhir-url",
        "https://localhost/fhir/",
        "--fhir-version",
        "dstu2",
        "--auth",
        "none",
        "--name",
        "Contoso",
    )
    assert created["fhir_url"] == "https://localhost/fhir" and created["fhir_version"] == "DSTU2"
    assert created["scope"] == "https://localhost/fhir/.default"
    changed = run_json(
        "tenant",
        "set",
        tenant_id,
        "--auth",
        "azure_ad",
        "--authority",
        "https://localhost/contoso",
        "--upstream-client-id",
        "app-id",
        "--secret-setting",
        "UPSTREAM_SECRET_CONTOSO",
    )
    assert changed["auth"] == "azure_ad" and changed["name"] == "Contoso" and changed["fhir_version"] == "DSTU2"
    assert run_json("tenant", "show", tenant_id)["secret_setting"] == "UPSTREAM_SECRET_CONTOSO"
    assert tenant_id in {t["tenant_id"] for t in run_json("tenant", "list")}
    assert run_json("tenant", "disable", tenant_id)["enabled"] is False
    removed = run_json("tenant", "remove", tenant_id)
    assert removed["tenant_id"] == tenant_id and removed["removed"] is True
    assert removed["disabled_accounts"] == [] and removed["revoked_secrets"] == 0
    assert registry().load_tenant(tenant_id) is None


def test_client_restricted_to_listed_tenants(tenant_id: str) -> None:
    created = run_json("client", "create", "--name", "restricted", "--tenants", tenant_id.upper())
    try:
        assert registry().get_client(created["client_id"]).client.allowed_tenants == (tenant_id,)
    finally:
        registry().delete_client(created["client_id"])


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (
            ("tenant", "set", "not-a-guid", "--fhir-url", "https://localhost/fhir", "--fhir-version", "STU3"),
            2,
            "not a tenant GUID",
        ),
        (
            ("tenant", "set", str(uuid.uuid4()), "--fhir-url", "ftp://localhost/fhir", "--fhir-version", "STU3"),
            2,
            "--fhir-url",
        ),
        (
            ("tenant", "set", str(uuid.uuid4()), "--fhir-url", "https://localhost/fhir", "--fhir-version", "STU4"),
            2,
            "--fhir-version",
        ),
        (("tenant", "set", str(uuid.uuid4()), "--fhir-url", "https://localhost/fhir"), 2, "--fhir-version"),
        (
            (
                "tenant",
                "set",
                str(uuid.uuid4()),
                "--fhir-url",
                "https://localhost/fhir",
                "--fhir-version",
                "R4",
                "--auth",
                "azure_ad",
            ),
            2,
            "--authority",
        ),
        (
            (
                "tenant",
                "set",
                str(uuid.uuid4()),
                "--fhir-url",
                "https://localhost/fhir",
                "--fhir-version",
                "R4",
                "--auth",
                "basic",
                "--username",
                "u",
                "--secret-setting",
                "TOKEN_SIGNING_KEY",
            ),
            2,
            "--secret-setting names TOKEN_SIGNING_KEY, a setting of the gateway itself",
        ),
        (
            ("tenant", "set", str(uuid.uuid4()), "--fhir-url", "http://169.254.169.254/fhir", "--fhir-version", "R4"),
            2,
            "--fhir-url is refused: link-local and cloud-metadata addresses are never allowed",
        ),
        (
            (
                "tenant",
                "set",
                str(uuid.uuid4()),
                "--fhir-url",
                "https://no-such-host.invalid/fhir",
                "--fhir-version",
                "R4",
            ),
            2,
            "--fhir-url is refused: the host name no-such-host.invalid does not resolve",
        ),
        (("tenant", "secret", "set", str(uuid.uuid4())), 3, "does not exist"),
        (("tenant", "secret", "set", "--value", "x", str(uuid.uuid4())), 2, "unrecognized arguments"),
        (("tenant", "show", str(uuid.uuid4())), 3, "does not exist"),
        (("client", "show", "no-such-client"), 3, "does not exist"),
        (("client", "secret", "revoke", "no-such-client", "abc"), 3, "does not exist"),
        (("client", "create", "--name", "x", "--tenants", "nope"), 2, "not a tenant GUID"),
        (("client", "secret", "add", "x", "--expires-days", "-1"), 2, "greater than zero"),
        (("client", "frobnicate"), 2, "invalid choice"),
    ],
)
def test_bad_input_gets_a_clear_error_and_a_non_zero_exit(argv: tuple[str, ...], status: int, message: str) -> None:
    code, out, err = run(*argv)
    assert code == status
    assert message in err and err.startswith("error: ")
    assert "Traceback" not in err + out


def test_revoking_an_unknown_secret_of_a_known_client_is_an_error(client_id: dict[str, Any]) -> None:
    code, _, err = run("client", "secret", "revoke", client_id["client_id"], "nope")
    assert code == 3 and "secret-nope" in err


def test_human_output_shows_the_secret_once_with_a_warning() -> None:
    code, out, _ = run("client", "create", "--name", "human")
    assert code == 0 and "client_secret: " in out and "shown only once" in out
    client = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("client_id: "))
    registry().delete_client(client)


def test_missing_registry_settings_are_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_CONNECTION_STRING")
    code, _, err = run("client", "list")
    assert code == 1 and "REGISTRY_TABLE_ENDPOINT" in err


def test_tenant_set_states_whether_the_version_bridge_translates(
    tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_FHIR_VERSION", "STU3")
    r4 = run_json(
        "tenant",
        "set",
        tenant_id,
        "--fhir-url",
        "https://localhost/r4",
        "--fhir-version",
        "R4B",
        "--auth",
        "none",
    )
    assert r4["fhir_version"] == "R4"
    assert r4["version_bridge"] == ("translates: the provider speaks R4, clients receive STU3 (GATEWAY_FHIR_VERSION)")
    same = run_json("tenant", "set", tenant_id, "--fhir-version", "STU3")
    assert same["version_bridge"].startswith("none needed: the provider speaks STU3")
    run_json("tenant", "remove", tenant_id)
