"""`tenant check`: fetches a provider's metadata with the tenant's upstream auth and reports what it finds.

The report gives success or a category of failure (`CATEGORIES`) in the gateway's own words, never the
provider's raw answer or status, so an operator cannot use the check to probe hosts and ports; the
provider URL passes the outbound address policy (at save time, and at connect time in the upstream client).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from shared import settings
from shared.fhir.versions import FhirVersion
from shared.outbound import upstream_client
from shared.outbound.address_policy import OutboundAddressRefused, check_outbound_url
from shared.outbound.upstream_errors import ProviderTooSlow
from shared.registry.tenants import Tenant
from shared.upstream_auth import UpstreamAuthError, UpstreamAuthUnavailable
from shared.upstream_auth.methods import upstream_auth_headers
from shared.version_bridge.engine import type_name
from shared.version_bridge.summary import bridge_summary

_FHIR_VERSION = re.compile(r"\d{1,2}\.\d{1,2}(\.\d{1,3})?(-[a-z0-9]{1,16})?")

# What can go wrong, as the report names it.
CATEGORIES = {
    "address_refused": "the provider's address is refused by the outbound address policy",
    "credentials": "the tenant's upstream credentials could not be made (configuration)",
    "identity_unavailable": "the identity provider or the provider-secret vault is unavailable",
    "unreachable": "the provider is unreachable",
    "tls": "the provider's TLS certificate is not trusted",
    "too_slow": "the provider did not answer in time",
    "refused_credentials": "the provider refused the gateway's credentials",
    "not_fhir": "the provider's metadata is not a FHIR capability statement",
}


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
        check_outbound_url(tenant.fhir_base_url, allow_private=settings.current().outbound_allow_private_addresses)
    except OutboundAddressRefused as refused:
        return _failed(report, "address_refused", str(refused))
    try:
        headers = {"Accept": tenant.fhir_version.json_media_type, **upstream_auth_headers(tenant)}
        report["upstream_auth"] = "ok"
    except UpstreamAuthError as error:
        report["upstream_auth"] = "failed"
        category = "identity_unavailable" if isinstance(error, UpstreamAuthUnavailable) else "credentials"
        return _failed(report, category, str(error))  # the gateway's own words: names, hosts, OAuth error codes
    try:
        answer = upstream_client.send("GET", tenant.fhir_base_url + "/metadata", headers)
    except upstream_client.UpstreamFailure as failure:
        report["reachable"] = False
        text = str(failure)
        if "address is refused" in text:
            return _failed(report, "address_refused")
        if "TLS" in text:
            return _failed(report, "tls")
        return _failed(report, "too_slow" if isinstance(failure, ProviderTooSlow) else "unreachable")
    report.update(reachable=True, latency_ms=round((time.perf_counter() - started) * 1000, 1))
    if answer.status_code in (401, 403):
        return _failed(report, "refused_credentials")
    try:
        statement = json.loads(answer.body)
    except ValueError:
        statement = None
    if answer.status_code != 200 or not isinstance(statement, dict) or not statement.get("resourceType"):
        return _failed(report, "not_fhir")
    announced = str(statement.get("fhirVersion", ""))
    if not _FHIR_VERSION.fullmatch(announced):
        announced = ""  # only a version number is repeated from the provider's answer, nothing else
    report["announced_version"] = announced
    found = version_of(announced)
    if found is not tenant.fhir_version:
        report["problems"].append(
            f"the provider announces fhirVersion {announced or '(none)'}, "
            f"but the tenant is configured as {tenant.fhir_version.name}"
        )
    report["version_bridge"] = bridge_summary(tenant.fhir_version, _announced_version())
    rest = (statement.get("rest") or [{}])[0]
    report["batch"] = any(i.get("code") == "batch" for i in rest.get("interaction", []) if isinstance(i, dict))
    served = {r.get("type") for r in rest.get("resource", []) if isinstance(r, dict)}

    def names(kind: str) -> set[str]:
        # Through the version bridge (every base translates to its version) a type is served under the provider's
        # name for it (MedicationOrder in DSTU2).
        return {kind, type_name(kind, "DSTU2", "STU3"), type_name(kind, "STU3", "DSTU2")}

    missing = [t for t in tenant.allowed_resource_types if not names(t) & served]
    if "Patient" not in served:
        report["problems"].append("the provider does not list Patient, which the Patients app requires")
    if missing:
        report["not_served"] = missing
    report["ok"] = not report["problems"]
    return report


def _announced_version() -> FhirVersion | None:
    try:
        return settings.current().gateway_fhir_version
    except settings.SettingError:
        return None


def _failed(report: dict[str, Any], category: str, detail: str | None = None) -> dict[str, Any]:
    report["category"] = category
    report["problems"].append(detail or CATEGORIES[category])
    return report
