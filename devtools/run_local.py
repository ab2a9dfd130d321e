"""`make run`: Azurite, sandbox providers (DSTU2, STU3, R4, an R4 EHR with SMART Backend Services), the gateway on the
local host, demo client and tenants."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from devtools.azurite import REPO, start_azurite

# Where a run keeps its state (Azurite's data, the signing key, demo.json); RUN_LOCAL_DIR moves it (tests).
LOCAL = Path(os.environ.get("RUN_LOCAL_DIR") or REPO / ".local")
DEMO_FILE = LOCAL / "demo.json"
SIGNING_KEY_FILE = LOCAL / "signing-key.pem"
SANDBOX_TOKEN_FILE = LOCAL / "sandbox-token"
UPSTREAM_CLIENT_KEY_FILE = LOCAL / "upstream-client-key.pem"
# Fixed, obviously-demo tenant GUIDs, so reruns find the same tenants.
DEMO_TENANT_STU3 = "00000000-0000-4000-8000-000000005703"
DEMO_TENANT_DSTU2 = "00000000-0000-4000-8000-000000000102"
DEMO_TENANT_R4 = "00000000-0000-4000-8000-000000000401"
DEMO_TENANT_SMART = "00000000-0000-4000-8000-0000000004b5"
# The client id the sandbox EHR "assigned" the gateway (an EHR administrator's registration, done in code here).
DEMO_EHR_CLIENT_ID = "fhir-gateway-demo"


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"{name} must be a port number, not {value!r}")
    return int(value)


def _read_or_create(path: Path, create: Any) -> str:
    if path.exists():
        return path.read_text()
    value = create()
    path.write_text(value)
    path.chmod(0o600)
    return value


def _configure(gateway_port: int, azurite_connection: str) -> None:
    from shared.tokens.signing_keys import generate_private_key_pem

    LOCAL.mkdir(exist_ok=True)
    os.environ.setdefault("GATEWAY_PUBLIC_BASE_URL", f"http://localhost:{gateway_port}")
    os.environ.setdefault("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "true")  # the sandbox providers are on loopback
    os.environ["REGISTRY_CONNECTION_STRING"] = azurite_connection
    # As in Azure (infra/): the host buffers no body larger than the largest one a route accepts (a batch Bundle).
    os.environ.setdefault("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", str(1024 * 1024 + 64 * 1024))
    if not os.environ.get("TOKEN_SIGNING_KEY"):
        os.environ["TOKEN_SIGNING_KEY"] = _read_or_create(SIGNING_KEY_FILE, generate_private_key_pem)
    if not os.environ.get("UPSTREAM_CLIENT_KEY"):
        os.environ["UPSTREAM_CLIENT_KEY"] = _read_or_create(UPSTREAM_CLIENT_KEY_FILE, _new_client_key_pem)


def _new_client_key_pem() -> str:
    """An EC P-384 key for the gateway's client assertions to the sandbox EHR (Azure: Key Vault, docs/deploy.md)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _demo_client(tenant_ids: list[str]) -> dict[str, str]:
    """The demo client of an earlier run when its secret still works and it may use every demo tenant (an older
    run may have seeded fewer); a new one otherwise."""
    from shared.registry.service import registry
    from shared.secret_values import secret_matches

    if DEMO_FILE.exists():
        previous = json.loads(DEMO_FILE.read_text())
        state = registry().load_client(previous.get("client_id", ""))
        if (
            state
            and state.client.enabled
            and all(state.client.may_use_tenant(t) for t in tenant_ids)
            and any(
                s.secret_id == previous.get("secret_id")
                and not s.revoked
                and secret_matches(previous.get("client_secret", ""), s.sha256)
                for s in state.secrets
            )
        ):
            return {
                "client_id": previous["client_id"],
                "client_secret": previous["client_secret"],
                "secret_id": previous["secret_id"],
            }
    issued = registry().create_client("Demo Patients app", tuple(tenant_ids))
    return {"client_id": issued.client_id, "client_secret": issued.secret, "secret_id": issued.secret_id}


def _seed(stu3_base: str, dstu2_base: str, r4_base: str, ehr_base: str, sandbox_token: str) -> dict[str, Any]:
    """The demo tenants read their sandbox with a bearer token kept in the provider-secret vault (the stand-in);
    the SMART tenant reads the sandbox EHR with the gateway's own client key."""
    from dataclasses import replace

    from shared.fhir.versions import FhirVersion
    from shared.onboarding.provider_secret_edit import store_provider_secret
    from shared.registry import tenants
    from shared.registry.service import registry

    registry().ensure_tables()
    for tenant_id, name, base, version in (
        (DEMO_TENANT_STU3, "Demo hospital (STU3 sandbox)", stu3_base, FhirVersion.STU3),
        (DEMO_TENANT_DSTU2, "Demo clinic (DSTU2 sandbox)", dstu2_base, FhirVersion.DSTU2),
        (DEMO_TENANT_R4, "Demo health system (R4 sandbox)", r4_base, FhirVersion.R4),
    ):
        wanted = tenants.Tenant(
            tenant_id=tenant_id,
            display_name=name,
            fhir_base_url=base,
            fhir_version=version,
            auth=tenants.UpstreamAuth(method="bearer", scope=base + "/.default"),
        )
        existing = _existing_tenant(tenant_id)
        registry().save_tenant(replace(wanted, etag=existing) if existing else wanted)
        store_provider_secret(tenant_id, sandbox_token)
    smart = tenants.Tenant(
        tenant_id=DEMO_TENANT_SMART,
        display_name="Demo EHR (R4, SMART Backend Services)",
        fhir_base_url=ehr_base,
        fhir_version=FhirVersion.R4,
        auth=tenants.UpstreamAuth(
            method="smart_backend", client_id=DEMO_EHR_CLIENT_ID, scope=tenants.DEFAULT_SMART_SCOPE
        ),
    )
    existing = _existing_tenant(DEMO_TENANT_SMART)
    registry().save_tenant(replace(smart, etag=existing) if existing else smart)
    return _demo_client([DEMO_TENANT_STU3, DEMO_TENANT_DSTU2, DEMO_TENANT_R4, DEMO_TENANT_SMART])


def _existing_tenant(tenant_id: str) -> str | None:
    """The ETag of the demo tenant's row, if an earlier run left one (even one the gateway now refuses to read,
    such as a row of a run before provider secrets, which named an app setting)."""
    from shared.registry import tenants
    from shared.registry.service import registry

    row = registry().storage.row(tenants.TABLE, tenant_id, tenants.PROVIDER_ROW)
    return row.etag if row is not None else None


CHECKS_HEADING = "Check every demo tenant on each FHIR base, as a client of its version would (conformance checker):"
DEMO_TENANTS = ("tenant_id", "tenant_id_dstu2", "tenant_id_r4", "tenant_id_smart")
VERSION_BASES = ("", "/DSTU2", "/STU3", "/R4")


def checker_commands(demo: dict[str, Any]) -> list[str]:
    """One shell command per FHIR base (the default one, then each versioned one): the conformance checker for
    every demo tenant (STU3, DSTU2 and R4 providers, the R4 EHR) with the one demo client."""
    tenants = " ".join(demo[key] for key in DEMO_TENANTS)
    return [
        f"  (for TENANT in {tenants}; do .venv/bin/python -m conformance --gateway {demo['fhir_base']}{suffix} "
        f"--client-id {demo['client_id']} --client-secret={demo['client_secret']} --tenant $TENANT "
        "--patient-id 1288992 || exit 1; done)"
        for suffix in VERSION_BASES
    ]


def _print_examples(demo: dict[str, Any]) -> None:
    token_url, fhir = demo["token_url"], demo["fhir_base"]
    checks = "\n".join(checker_commands(demo))
    print(
        f"""
FHIR gateway running at {demo["gateway_base"]}   (Ctrl-C stops everything)
  metadata   {fhir}/metadata
  token      {token_url}
  demo client_id {demo["client_id"]}  (secret in .local/demo.json)
  tenants    {DEMO_TENANT_STU3} -> STU3 sandbox, {DEMO_TENANT_DSTU2} -> DSTU2 sandbox,
             {DEMO_TENANT_R4} -> R4 sandbox, {DEMO_TENANT_SMART} -> R4 EHR (smart_backend);
             all read as {demo["fhir_version"]} on {fhir}/ and as DSTU2, STU3, R4 on
             {fhir}/DSTU2/, {fhir}/STU3/, {fhir}/R4/ (version bridge; one client, one token for all)
  client JWKS {demo["gateway_base"]}/.well-known/smart-client-jwks.json (registered at the sandbox EHR)

Get a token:
  curl -s -X POST {token_url} \\
    -d grant_type=client_credentials -d client_id={demo["client_id"]} \\
    -d client_secret={demo["client_secret"]} -d scope={demo["tenant_id"]}

Then search through the gateway (TOKEN = access_token from above):
  curl -s -H "Authorization: Bearer $TOKEN" "{fhir}/Patient?given=ruth&family=black"

Or in one go:
  TOKEN=$(curl -s -X POST {token_url} -d grant_type=client_credentials -d client_id={demo["client_id"]} \\
    -d client_secret={demo["client_secret"]} -d scope={demo["tenant_id"]} \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" "{fhir}/Patient?given=ruth&family=black"

{CHECKS_HEADING}
{checks}

Admin command line (same registry): REGISTRY_CONNECTION_STRING='{os.environ["REGISTRY_CONNECTION_STRING"]}' \\
  .venv/bin/python -m admin client list
""",
        flush=True,
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    gateway_port = _port("GATEWAY_PORT", 7071)
    azurite_port = _port("AZURITE_PORT", 10002)
    sandbox_port = _port("SANDBOX_PORT", 7080)
    LOCAL.mkdir(parents=True, exist_ok=True)
    print("Starting Azurite (Table Storage emulator, data in .local/azurite) ...", flush=True)
    try:
        azurite = start_azurite(port=azurite_port, location=LOCAL / "azurite")
    except RuntimeError as error:
        print(f"Azurite did not start: {error}. Is port {azurite_port} taken? Set AZURITE_PORT.", file=sys.stderr)
        return 1
    handles: list[Any] = []
    try:
        _configure(gateway_port, azurite.connection_string)
        from local_host.server import serve_in_thread as serve_gateway
        from sandbox.app import create_app
        from sandbox.sample_data import SampleDataError, load_sample_data
        from sandbox.server import serve_in_thread as serve_sandbox

        token = _read_or_create(SANDBOX_TOKEN_FILE, lambda: secrets.token_urlsafe(32))
        try:
            load_sample_data()
        except SampleDataError as error:
            print(f"Cannot start the sandbox providers: {error}", file=sys.stderr)
            return 1
        stu3 = serve_sandbox(create_app("STU3", base_path="/fhir", required_bearer_token=token), port=sandbox_port)
        handles.append(stu3)
        dstu2 = serve_sandbox(
            create_app("DSTU2", base_path="/baseDstu2", required_bearer_token=token), port=sandbox_port + 1
        )
        handles.append(dstu2)
        r4 = serve_sandbox(create_app("R4", base_path="/r4", required_bearer_token=token), port=sandbox_port + 2)
        handles.append(r4)
        from sandbox.backend_services import create_backend_services_ehr, serve_ehr_in_thread

        ehr = create_backend_services_ehr("R4", base_path="/ehr/r4")
        jwks_url = os.environ["GATEWAY_PUBLIC_BASE_URL"] + "/.well-known/smart-client-jwks.json"
        ehr.register_client(DEMO_EHR_CLIENT_ID, jwks_url, ["system/*.rs", "system/*.read"])
        ehr_handle = serve_ehr_in_thread(ehr, port=sandbox_port + 3)
        handles.append(ehr_handle)
        print(f"Sandbox providers: {stu3.base_url} (STU3), {dstu2.base_url} (DSTU2), {r4.base_url} (R4)", flush=True)
        print(f"Sandbox EHR (SMART Backend Services, R4): {ehr_handle.base_url}", flush=True)
        from devtools.local_key_vault import start_local_vault
        from devtools.local_portal import start_local_portal

        portal = start_local_portal(os.environ["GATEWAY_PUBLIC_BASE_URL"], DEMO_TENANT_STU3, LOCAL)
        handles.append(portal)
        vault = start_local_vault(portal.authority)
        handles.append(vault)
        print(f"Provider-secret vault (Key Vault stand-in): {vault.vault_url}", flush=True)
        client = _seed(stu3.base_url, dstu2.base_url, r4.base_url, ehr_handle.base_url, token)
        gateway = serve_gateway(REPO, host="127.0.0.1", port=gateway_port)
        handles.append(gateway)
        from shared import public_urls, settings

        demo = {
            "gateway_base": settings.current().gateway_public_base_url,
            "fhir_base": settings.current().fhir_base_url,
            "token_url": public_urls.token_url(),
            **client,
            "tenant_id": DEMO_TENANT_STU3,
            "tenant_id_dstu2": DEMO_TENANT_DSTU2,
            "tenant_id_r4": DEMO_TENANT_R4,
            "tenant_id_smart": DEMO_TENANT_SMART,
            "fhir_version": os.environ.get("GATEWAY_FHIR_VERSION", "STU3"),
        }
        DEMO_FILE.write_text(json.dumps(demo, indent=2) + "\n")
        DEMO_FILE.chmod(0o600)
        _print_examples(demo)
        print(portal.describe(), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        print("\nStopping ...", flush=True)
        return 0
    except OSError as error:
        print(f"Could not start: {error}. Set GATEWAY_PORT / SANDBOX_PORT to free ports.", file=sys.stderr)
        return 1
    finally:
        for handle in reversed(handles):
            handle.stop()
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
