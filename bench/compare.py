"""Prototype optimisations (bench/variants.py) measured side by side, each in its own gateway process, in turns."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from bench.gateway import TENANT_NONE, Gateway
from bench.load import RequestSpec, Target, fetch
from bench.variants import ALL_VARIANTS

Say = Callable[[str], None]
VARIANT_SETS: dict[str, tuple[str, ...]] = {
    "baseline": (),
    "quiet_logs": ("quiet_logs",),
    "orjson": ("orjson",),
    "bytes_rewrite": ("bytes_rewrite",),
    "urllib3": ("urllib3",),
    "jwt_cache": ("jwt_cache",),
    "token_registry_cache": ("token_registry_cache",),
    "all": ALL_VARIANTS,
}


def _normalised(body: bytes, gateway_base: str) -> Any:
    """An answer with this gateway's own base replaced, so answers of gateways on other ports compare equal."""
    return json.loads(body.replace(gateway_base.encode(), b"GATEWAY"))


def same_answers(gateways: dict[str, Gateway], targets: dict[str, Target], specs: dict[str, RequestSpec]
                 ) -> dict[str, bool]:
    """Whether each variant answers every scenario with the same JSON document as the baseline."""
    reference = {scenario: _normalised(fetch(targets["baseline"], spec)[2],
                                       gateways["baseline"].public_base + "/fhir")
                 for scenario, spec in specs.items()}
    return {name: all(_normalised(fetch(targets[name], spec)[2], gateways[name].public_base + "/fhir")
                      == reference[scenario] for scenario, spec in specs.items())
            for name in gateways if name != "baseline"}


def compare_variants(upstream_base: str, upstream_pid: int, specs: dict[str, RequestSpec], requests: int,
                     seconds: float, rounds: int, warmup: float, bundle_requests: int, say: Say,
                     sets: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    from bench.run import bundle_memory, interleaved_latency, interleaved_throughput

    sets = sets or VARIANT_SETS
    result: dict[str, Any] = {"sets": {name: list(variants) for name, variants in sets.items()}}
    with ExitStack() as stack:
        say(f"variants: starting {len(sets)} gateway processes ...")
        gateways = {name: stack.enter_context(Gateway(upstream_base, variants=variants, with_identity_provider=False))
                    for name, variants in sets.items()}
        targets = {name: gateway.target(gateway.token(TENANT_NONE)) for name, gateway in gateways.items()}
        memory = {name: bundle_memory(gateway, targets[name], specs["bundle"], 0)["peak_increase_first_request_bytes"]
                  for name, gateway in gateways.items()}
        result["same_answers_as_baseline"] = same_answers(gateways, targets, specs)
        for scenario in ("read", "search", "batch", "bundle"):
            say(f"variants: latency of {scenario} ...")
            count = bundle_requests if scenario == "bundle" else requests
            jobs = {name: (target, specs[scenario]) for name, target in targets.items()}
            latency = interleaved_latency(jobs, count, max(1, min(rounds, count)))
            result[f"{scenario}_p50_ms"] = {name: latency[name]["p50_ms"] for name in gateways}
        say("variants: search throughput at concurrency 8 ...")
        jobs = {name: (target, specs["search"]) for name, target in targets.items()}
        pids = {name: [gateway.pid] for name, gateway in gateways.items()}
        run = interleaved_throughput(jobs, 8, seconds, rounds, warmup, pids)
        result["search_c8_requests_per_second"] = {name: run[name]["requests_per_second"] for name in gateways}
        result["search_c8_gateway_cpu_ms_per_request"] = {name: run[name].get("cpu_ms_per_request")
                                                           for name in gateways}
        say("variants: token endpoint at concurrency 8 ...")
        token_jobs = {name: (Target(name, "127.0.0.1", gateway.port), gateway.token_request(TENANT_NONE))
                      for name, gateway in gateways.items()}
        tokens = interleaved_throughput(token_jobs, 8, seconds, rounds, warmup, pids)
        result["tokens_c8_per_second"] = {name: tokens[name]["requests_per_second"] for name in gateways}
        result["bundle_peak_increase_bytes"] = memory
    return result


def render_variants(result: dict[str, Any]) -> str:
    from bench.report import _fmt, _table

    columns = [("read p50", "read_p50_ms", 3), ("search p50", "search_p50_ms", 3), ("batch p50", "batch_p50_ms", 3),
               ("bundle p50", "bundle_p50_ms", 1), ("search c8/s", "search_c8_requests_per_second", 0),
               ("gw cpu ms/req", "search_c8_gateway_cpu_ms_per_request", 3), ("tokens c8/s", "tokens_c8_per_second", 0)]
    rows = []
    for name in result["sets"]:
        memory = result["bundle_peak_increase_bytes"].get(name)
        same = result["same_answers_as_baseline"].get(name, True)
        rows.append([name] + [_fmt(result[key].get(name), digits) for _, key, digits in columns]
                    + [f"{memory / 1e6:.1f}" if memory is not None else "-", "yes" if same else "NO"])
    return "Prototype variants (each its own gateway process; ms, requests/s, MB)\n" + _table(
        ["variant"] + [title for title, _, _ in columns] + ["bundle peak MB", "same answers"], rows)
