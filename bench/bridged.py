"""The version bridge under load: an R4 upstream behind the STU3 gateway, next to the unbridged STU3 tenant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import static_upstream
from bench.gateway import Gateway, bundle_memory
from bench.load import RequestSpec, Target, fetch
from bench.rounds import Say, latency_interleaved

TENANT_R4 = "00000000-0000-4000-8000-00000000be04"
# The canned documents in R4's words: Observation categories from terminology.hl7.org, an R4 CapabilityStatement.
_R4_SPELLINGS = (
    (b"http://hl7.org/fhir/observation-category", b"http://terminology.hl7.org/CodeSystem/observation-category"),
    (b'"fhirVersion":"3.0.2"', b'"fhirVersion":"4.0.1"'),
)


def write_r4_documents(directory: Path, base_url: str, bundle_entries: int) -> dict[str, int]:
    """The static upstream's documents for an R4 server at `base_url`."""
    sizes = static_upstream.write_documents(directory, base_url, bundle_entries)
    for name in sizes:
        path = directory / name
        data = path.read_bytes()
        for stu3, r4 in _R4_SPELLINGS:
            data = data.replace(stu3, r4)
        data = data.replace(b'"acceptUnknown":"no",', b"")
        path.write_bytes(data)
        sizes[name] = len(data)
    return sizes


def onboard_r4(gateway: Gateway, upstream_base: str) -> Target:
    """An R4 tenant for the R4 upstream, a client allowed to use it, and the gateway target with its token."""
    from shared.fhir.versions import FhirVersion
    from shared.registry import tenants
    from shared.registry.service import registry

    registry().save_tenant(
        tenants.Tenant(
            tenant_id=TENANT_R4,
            display_name="Benchmark (R4 static upstream, bridged to STU3)",
            fhir_base_url=upstream_base,
            fhir_version=FhirVersion.R4,
            auth=tenants.UpstreamAuth(method="none", scope=upstream_base + "/.default"),
        )
    )
    issued = registry().create_client("Benchmark R4 client", (TENANT_R4,))
    registry().forget()
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": issued.client_id,
            "client_secret": issued.secret,
            "scope": TENANT_R4,
        }
    ).encode("ascii")
    spec = RequestSpec("token", "POST", "/oauth2/token", form, "application/x-www-form-urlencoded", absolute=True)
    status, _, body = fetch(Target("gateway", "127.0.0.1", gateway.port), spec)
    if status != 200:
        raise RuntimeError(f"the token endpoint answered {status}: {body[:300]!r}")
    return gateway.target(str(json.loads(body)["access_token"]))


def check_bridged(target: Target, specs: dict[str, RequestSpec]) -> dict[str, Any]:
    """What is timed is a real translation: STU3 media type and shapes, every entry kept."""
    found: dict[str, Any] = {}
    for name in ("search", "bundle"):
        status, headers, body = fetch(target, specs[name])
        document = json.loads(body)
        found[name] = {
            "status": status,
            "entries": len(document.get("entry", [])),
            "media_type": headers.get("content-type", ""),
        }
        if status != 200 or not found[name]["media_type"].startswith("application/fhir+json"):
            raise RuntimeError(f"the bridged {name} answered {status}: {body[:300]!r}")
    if b"terminology.hl7.org" in fetch(target, specs["bundle"])[2]:
        raise RuntimeError("the bridged Bundle still holds R4 code-system URLs")
    return found


def bridged_section(
    gateway: Gateway,
    unbridged: Target,
    bridged: Target,
    direct_r4: Target,
    specs: dict[str, RequestSpec],
    latency_requests: int,
    bundle_requests: int,
    unbridged_memory: dict[str, Any],
    body_bytes: int,
    say: Say,
) -> dict[str, Any]:
    """Added p50 of the bridge (bridged minus unbridged gateway) for the search and the large Bundle, and the
    gateway's peak memory for the bridged Bundle next to the unbridged one."""
    section: dict[str, Any] = {"checks": check_bridged(bridged, specs)}
    for name, total in (("search", latency_requests), ("bundle", bundle_requests)):
        points = {
            "direct": (direct_r4, specs[name]),
            "unbridged": (unbridged, specs[name]),
            "bridged": (bridged, specs[name]),
        }
        # Interleaved request by request: the figure is a difference of two p50s, and blocks of requests per
        # point (even rotated in rounds) let a burst of other load on the machine land on one side only.
        latency = latency_interleaved(points, total, say, f"bridged {name} latency")
        latency["added_by_bridge"] = {
            f"{p}_ms": round(latency["bridged"][f"{p}_ms"] - latency["unbridged"][f"{p}_ms"], 4)
            for p in ("p50", "p95", "p99")
        }
        section[name] = latency
    # Like the unbridged figure: the first large answer of a process that has served only small ones (a process
    # that held a large answer before reuses that memory, and its peak would not grow at all).
    say("bridged Bundle: gateway peak memory, in a fresh gateway process ...")
    gateway.restart()
    for _ in range(5):
        fetch(bridged, specs["search"])
    memory = bundle_memory(gateway, bridged, specs["bundle"], 3)
    section["memory"] = {
        **memory,
        "body_bytes": body_bytes,
        "peak_increase_to_body_ratio": round(memory["peak_increase_first_request_bytes"] / body_bytes, 2),
        "unbridged_peak_increase_to_body_ratio": round(
            unbridged_memory["peak_increase_first_request_bytes"] / body_bytes, 2
        ),
    }
    return section
