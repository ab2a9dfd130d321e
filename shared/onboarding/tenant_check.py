"""`tenant check`: fetches a provider's metadata with the tenant's upstream auth and reports what it finds."""

from __future__ import annotations

import json
import time
from typing import Any

from shared.fhir.versions import FhirVersion
from shared.proxy import upstream_client
from shared.registry.tenants import Tenant
from shared.upstream_auth import UpstreamAuthError, upstream_auth_headers
from shared.version_bridge.engine import type_name
from shared.version_bridge.proxy_bridge import bridge_summary, bridged


def version_of(fhir_version: str) -> FhirVersion | None:
    """The release a `fhirVersion` string such as 3.0.1 or 1.0.2 belongs to."""
    prefixes = {"1.0": FhirVersion.DSTU2, "3.0": FhirVersion.STU3, "4.0": FhirVersion.R4, "4.3": FhirVersion.R4}
    return prefixes.get(".".join(fhir_version.split(".")[:2]))


def check_tenant(tenant: Tenant) -> dict[str, Any]:
    """A report: reachable, status, announced version and whether it matches, latency, problems found."""
    report: dict[str, Any] = {
        "tenant_id": tenant.tenant_id,
        "fhir_url": tenant.fhir_base_url,
        "configured_version": tenant.fhir_version.name,
        "auth": tenant.auth.method,
        "ok": False,
        "problems": [],
    }
    started = time.perf_counter()
    try:
        headers = {"Accept": tenant.fhir_version.json_media_type, **upstream_auth_headers(tenant)}
        report["upstream_auth"] = "ok"
    except UpstreamAuthError as error:
        report["upstream_auth"] = "failed"
        report["problems"].append(str(error))
        return report
    try:
        answer = upstream_client.send("GET", tenant.fhir_base_url + "/metadata", headers)
    except upstream_client.UpstreamFailure as failure:
        report["reachable"] = False
        report["problems"].append(str(failure))
        return report
    report.update(
        reachable=True, status=answer.status_code, latency_ms=round((time.perf_counter() - started) * 1000, 1)
    )
    try:
        statement = json.loads(answer.body)
    except ValueError:
        statement = None
    if answer.status_code != 200 or not isinstance(statement, dict):
        report["problems"].append(f"metadata answered HTTP {answer.status_code} without a capability statement")
        return report
    announced = str(statement.get("fhirVersion", ""))
    report["announced_version"] = announced
    found = version_of(announced)
    if found is not tenant.fhir_version:
        report["problems"].append(
            f"the provider announces fhirVersion {announced or '(none)'}, "
            f"but the tenant is configured as {tenant.fhir_version.name}"
        )
    report["version_bridge"] = bridge_summary(tenant.fhir_version)
    rest = (statement.get("rest") or [{}])[0]
    report["batch"] = any(i.get("code") == "batch" for i in rest.get("interaction", []) if isinstance(i, dict))
    served = {r.get("type") for r in rest.get("resource", []) if isinstance(r, dict)}
    translating = bridged(tenant.fhir_version) is not None

    def names(kind: str) -> set[str]:
        # Through the version bridge a type is served under the provider's name for it (MedicationOrder in DSTU2).
        return {kind, type_name(kind, "DSTU2", "STU3"), type_name(kind, "STU3", "DSTU2")} if translating else {kind}

    missing = [t for t in tenant.allowed_resource_types if not names(t) & served]
    if "Patient" not in served:
        report["problems"].append("the provider does not list Patient, which the Patients app requires")
    if missing:
        report["not_served"] = missing
    report["ok"] = not report["problems"]
    return report
