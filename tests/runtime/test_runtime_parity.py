"""Every documented route answers alike on the local host and on Azure's Python runtime (host stand-in + worker).

The same request goes to both; status, every header but the servers' own, and the body must agree, apart from
the known differences listed (with their reasons) in expected_differences.py. The real runtime's status must
also be the one the gateway documents, so a route broken the same way on both sides still fails.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import pytest
from expected_differences import EXPECTED_DIFFERENCES
from gateway_env import GATEWAY_PORT, REPO, table_storage
from gateway_testing import basic_auth
from parity_http import BODY_LIMIT, Answer, Case, send

from devtools.runtime_tier.launcher import RuntimeHost
from devtools.runtime_tier.routes import read_function_folders
from sandbox.server import ServerHandle
from shared.fhir.versions import parse_fhir_version
from shared.registry import tenants
from shared.registry.service import registry, use_storage

pytestmark = pytest.mark.table_storage

PATIENT = "1288992"  # a SMART sample patient the sandbox serves
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FHIR_JSON = {"Accept": "application/fhir+json"}
ISSUED_AT = r'"(iat|nbf|exp|jti|created|last_used|expires)"\s*:\s*("[^"]*"|\d+)'
UUIDS = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Sealed cookie values, sign-in state and nonces: runs of token characters (an '=' padding or its escape stays).
PAGE = (r"[A-Za-z0-9_-]{16,}",)
PROXY = (UUIDS, r"dur=[0-9.]+", r'"lastUpdated"\s*:\s*"[^"]+"')  # request ids, Server-Timing, provider clocks


@dataclass
class World:
    tenant_id: str
    client_id: str
    secret: str
    token: str


@dataclass(frozen=True)
class HostCall:
    """Per host: fills the case's path placeholders before the call and tidies up after it."""

    prepare: Callable[[], dict[str, str]] = dict
    tidy: Callable[[Answer], None] = lambda answer: None


def build_cases(world: World) -> dict[str, tuple[Case, HostCall]]:
    bearer = {"Authorization": f"Bearer {world.token}"}
    secrets_path = f"/oauth2/clients/{world.client_id}/secrets"
    client_auth = basic_auth(world.client_id, world.secret)
    token_form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": world.client_id,
            "client_secret": world.secret,
            "scope": world.tenant_id,
        }
    ).encode()
    wrong_form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": world.client_id,
            "client_secret": "wrong",
            "scope": world.tenant_id,
        }
    ).encode()
    batch = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": f"Patient/{PATIENT}"}}],
        }
    ).encode()

    def new_secret() -> dict[str, str]:
        return {"secret_id": registry().add_secret(world.client_id, operator=True).secret_id}

    def revoke_created(answer: Answer) -> None:
        if answer.status == 201:
            registry().revoke_secret(world.client_id, json.loads(answer.body)["secret_id"], operator=True)

    plain = HostCall()
    cases = [
        (Case("metadata", "GET", "/fhir/metadata", 200, FHIR_JSON), plain),
        (Case("metadata-head", "HEAD", "/fhir/metadata", 200, FHIR_JSON), plain),
        (Case("smart-configuration", "GET", "/fhir/.well-known/smart-configuration", 200), plain),
        # The versioned bases: the same function folder, each base in its own version (README "Routes").
        (Case("metadata-r4", "GET", "/fhir/R4/metadata", 200, FHIR_JSON), plain),
        (Case("metadata-dstu2-head", "HEAD", "/fhir/DSTU2/metadata", 200, FHIR_JSON), plain),
        (Case("smart-configuration-stu3", "GET", "/fhir/STU3/.well-known/smart-configuration", 200), plain),
        (Case("jwks", "GET", "/.well-known/jwks.json", 200), plain),
        (Case("client-jwks", "GET", "/.well-known/smart-client-jwks.json", 200), plain),
        (
            Case("token", "POST", "/oauth2/token", 200, FORM, token_form, volatile=(r'"access_token"\s*:\s*"[^"]+"',)),
            plain,
        ),
        (Case("token-wrong-secret", "POST", "/oauth2/token", 401, FORM, wrong_form), plain),
        (
            Case(
                "introspect",
                "POST",
                "/oauth2/introspect",
                200,
                {**FORM, **client_auth},
                urlencode({"token": world.token}).encode(),
            ),
            plain,
        ),
        (Case("token-chunked", "POST", "/oauth2/token", 400, FORM, token_form, chunked=True), plain),
        (Case("authorize", "GET", "/oauth2/authorize?response_type=code", 400), plain),
        (Case("secrets-list", "GET", secrets_path, 200, client_auth, volatile=(ISSUED_AT,)), plain),
        (
            Case(
                "secrets-create",
                "POST",
                secrets_path,
                201,
                client_auth,
                b"",
                volatile=(ISSUED_AT, r'"(client_secret|secret_id)"\s*:\s*"[^"]+"'),
            ),
            HostCall(tidy=revoke_created),
        ),
        (
            Case(
                "secrets-delete", "DELETE", secrets_path + "/{secret_id}", 204, client_auth, volatile=(ISSUED_AT, UUIDS)
            ),
            HostCall(prepare=new_secret),
        ),
        (Case("patient-read", "GET", f"/fhir/Patient/{PATIENT}", 200, {**bearer, **FHIR_JSON}, volatile=PROXY), plain),
        (Case("patient-head", "HEAD", f"/fhir/Patient/{PATIENT}", 200, {**bearer, **FHIR_JSON}, volatile=PROXY), plain),
        (Case("patient-read-r4", "GET", f"/fhir/R4/Patient/{PATIENT}", 200, bearer, volatile=PROXY), plain),
        (Case("patient-head-dstu2", "HEAD", f"/fhir/DSTU2/Patient/{PATIENT}", 200, bearer, volatile=PROXY), plain),
        (
            Case(
                "patient-search-post-r4",
                "POST",
                "/fhir/R4/Patient/_search",
                200,
                {**bearer, **FORM},
                f"_id={PATIENT}".encode(),
                volatile=PROXY,
            ),
            plain,
        ),
        (
            Case(
                "batch-dstu2",
                "POST",
                "/fhir/DSTU2",
                200,
                {**bearer, "Content-Type": "application/json+fhir"},
                batch,
                volatile=PROXY,
            ),
            plain,
        ),
        (
            Case(
                "patient-search-post",
                "POST",
                "/fhir/Patient/_search",
                200,
                {**bearer, **FORM, **FHIR_JSON},
                f"_id={PATIENT}".encode(),
                volatile=PROXY,
            ),
            plain,
        ),
        (
            Case(
                "batch",
                "POST",
                "/fhir",
                200,
                {**bearer, **FHIR_JSON, "Content-Type": "application/fhir+json"},
                batch,
                volatile=PROXY,
            ),
            plain,
        ),
        (Case("health", "GET", "/health", 200), plain),
        (Case("portal", "GET", "/portal/", 200, volatile=PAGE), plain),
        (Case("portal-sign-in", "GET", "/portal/auth/sign-in", 302, volatile=PAGE), plain),
        (Case("portal-sign-out", "POST", "/portal/auth/sign-out", 200, FORM, b"csrf=x", volatile=PAGE), plain),
        (Case("unknown-route", "GET", "/no/such/route", 404), plain),
        (Case("method-not-listed", "PUT", "/oauth2/token", 404, FORM, token_form), plain),
        (Case("token-over-body-limit", "POST", "/oauth2/token", 500, FORM, b"a=" + b"x" * BODY_LIMIT), plain),
        # What the gateway answers to these two is being changed (issue 19, part 2): parity only, no status.
        (Case("format-empty", "GET", "/fhir/metadata?_format=", None), plain),
        (Case("format-repeated", "GET", "/fhir/metadata?_format=json&_format=xml", None), plain),
    ]
    return {case.id: (case, call) for case, call in cases}


CASE_IDS = list(build_cases(World("t", "c", "s", "x")))


@pytest.fixture(scope="module")
def world(stu3_provider: ServerHandle, local_host: str, runtime_host: RuntimeHost) -> Iterator[World]:
    table_storage()
    use_storage(None)
    tenant_id = str(uuid.uuid4())
    registry().save_tenant(
        tenants.Tenant(
            tenant_id=tenant_id,
            display_name="runtime tier tenant",
            fhir_base_url=stu3_provider.base_url.rstrip("/"),
            fhir_version=parse_fhir_version("STU3"),
            auth=tenants.UpstreamAuth(method="none", scope=stu3_provider.base_url.rstrip("/") + "/.default"),
            enabled=True,
        )
    )
    issued = registry().create_client("runtime tier client", (tenant_id,), None, None)
    token_answer = send(
        local_host,
        build_cases(World(tenant_id, issued.client_id, issued.secret, ""))["token"][0],
        f"127.0.0.1:{GATEWAY_PORT}",
    )
    assert token_answer.status == 200, token_answer.body
    yield World(tenant_id, issued.client_id, issued.secret, json.loads(token_answer.body)["access_token"])
    registry().delete_client(issued.client_id)
    registry().remove_tenant(tenant_id)


def call(base_url: str, case: Case, host_call: HostCall) -> Answer:
    filled = replace(case, path=case.path.format(**host_call.prepare()))
    answer = send(base_url, filled, f"127.0.0.1:{GATEWAY_PORT}")
    host_call.tidy(answer)
    return answer


def describe(aspect: str, local: dict[str, object], real: dict[str, object]) -> str:
    ours, theirs = (str(side.get(aspect, "<absent>"))[:300] for side in (local, real))
    return f"  {aspect}: local host {ours!r} / runtime {theirs!r}"


def test_every_function_folder_loads_in_the_real_worker(runtime_host: RuntimeHost) -> None:
    assert runtime_host.loaded_functions == len(read_function_folders(REPO)) >= 9


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_the_real_runtime_answers_as_the_local_host(
    case_id: str, world: World, local_host: str, runtime_host: RuntimeHost
) -> None:
    case, host_call = build_cases(world)[case_id]
    local = call(local_host, case, host_call).aspects(case.volatile, case.method)
    real_answer = call(runtime_host.url, case, host_call)
    real = real_answer.aspects(case.volatile, case.method)
    assert case.status is None or real_answer.status == case.status, (
        f"the real runtime answered {real_answer.status}: {real_answer.body[:300]!r}"
    )
    differing = sorted(a for a in set(local) | set(real) if local.get(a) != real.get(a))
    unexpected = [a for a in differing if (case.id, a) not in EXPECTED_DIFFERENCES]
    stale = [a for (cid, a) in EXPECTED_DIFFERENCES if cid == case.id and a not in differing]
    report = [describe(a, local, real) for a in unexpected]
    report += [f"  {a}: no longer differs; delete ({case.id!r}, {a!r}) from expected_differences.py" for a in stale]
    assert not report, f"{case.method} {case.path}:\n" + "\n".join(report)


def test_every_route_in_the_readme_table_has_a_case() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Routes", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"`([A-Z,]+) (/[^`]*)`", section)
    assert len(documented) >= 8, "the README's route table was not found"
    cases = build_cases(World("t", "c", "s", "x")).values()
    missing = []
    for methods, path in documented:
        escaped = re.sub(r"\\\{\\\*[^}]*\\\}", ".*", re.escape(path))
        pattern = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", escaped) + "$")
        for method in methods.split(","):
            if not any(c.method == method and pattern.match(c.path.split("?")[0]) for c, _ in cases):
                missing.append(f"{method} {path}")
    assert not missing, f"documented routes the real-runtime tier does not call: {missing}"
