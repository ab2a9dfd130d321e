"""Prototype optimisations (bench/variants.py) measured side by side, each in its own gateway process, in turns."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from bench.gateway import TENANT_NONE, Gateway, bundle_memory
from bench.load import RequestSpec, Target, fetch
from bench.micro import has_orjson
from bench.rounds import latency_in_rounds, throughput_in_rounds
from bench.variants import ALL_VARIANTS

Say = Callable[[str], None]
NEEDS_ORJSON = frozenset({"orjson", "bytes_rewrite"})
VARIANT_SETS: dict[str, tuple[str, ...]] = {
    "baseline": (),
    "quiet_logs": ("quiet_logs",),
    "orjson": ("orjson",),
    "bytes_rewrite": ("bytes_rewrite",),
    "bytes_rewrite_sniff": ("bytes_rewrite_sniff",),
    "urllib3": ("urllib3",),
    "jwt_cache": ("jwt_cache",),
    "token_registry_cache": ("token_registry_cache",),
    "all": tuple(v for v in ALL_VARIANTS if v != "bytes_rewrite_sniff"),
    "all_sniff": tuple(v for v in ALL_VARIANTS if v != "bytes_rewrite"),
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
    sets = dict(sets or VARIANT_SETS)
    skipped = [] if has_orjson() else [name for name, variants in sets.items() if set(variants) & NEEDS_ORJSON]
    for name in skipped:
        del sets[name]
    result: dict[str, Any] = {"sets": {name: list(variants) for name, variants in sets.items()},
                              "skipped_without_orjson": skipped}
    with ExitStack() as stack:
        say(f"variants: starting {len(sets)} gateway processes ...")
        gateways = {name: stack.enter_context(Gateway(upstream_base, variants=variants, with_identity_provider=False))
                    for name, variants in sets.items()}
        targets = {name: gateway.target(gateway.token(TENANT_NONE)) for name, gateway in gateways.items()}
        memory = {name: bundle_memory(gateway, targets[name], specs["bundle"], 0)["peak_increase_first_request_bytes"]
                  for name, gateway in gateways.items()}
        result["same_answers_as_baseline"] = same_answers(gateways, targets, specs)
        scenarios = ("read", "search", "batch")
        points = {(scenario, name): (target, specs[scenario]) for scenario in scenarios
                  for name, target in targets.items()}
        latency = latency_in_rounds(points, requests, rounds, say, "variants: latency")
        bundle_points = {("bundle", name): (target, specs["bundle"]) for name, target in targets.items()}
        latency.update(latency_in_rounds(bundle_points, bundle_requests, max(1, min(rounds, bundle_requests))))
        for scenario in (*scenarios, "bundle"):
            result[f"{scenario}_p50_ms"] = {name: latency[(scenario, name)]["p50_ms"] for name in gateways}
        search = {("search", name): (target, specs["search"], 8) for name, target in targets.items()}
        tokens = {("token", name): (Target(name, "127.0.0.1", gateway.port), gateway.token_request(TENANT_NONE), 8)
                  for name, gateway in gateways.items()}
        pids = {(kind, name): [gateway.pid] for kind in ("search", "token") for name, gateway in gateways.items()}
        run = throughput_in_rounds({**search, **tokens}, seconds, rounds, warmup, pids, say,
                                   "variants: search and token throughput at concurrency 8")
        result["search_c8_requests_per_second"] = {name: run[("search", name)]["requests_per_second"]
                                                   for name in gateways}
        result["search_c8_gateway_cpu_ms_per_request"] = {name: run[("search", name)].get("cpu_ms_per_request")
                                                           for name in gateways}
        result["tokens_c8_per_second"] = {name: run[("token", name)]["requests_per_second"] for name in gateways}
        result["token_gateway_cpu_ms_per_request"] = {name: run[("token", name)].get("cpu_ms_per_request")
                                                       for name in gateways}
        result["bundle_peak_increase_bytes"] = memory
    return result


def render_variants(result: dict[str, Any]) -> str:
    from bench.report import _fmt, _table

    columns = [("read p50", "read_p50_ms", 3), ("search p50", "search_p50_ms", 3), ("batch p50", "batch_p50_ms", 3),
               ("bundle p50", "bundle_p50_ms", 1), ("search c8/s", "search_c8_requests_per_second", 0),
               ("gw cpu ms/req", "search_c8_gateway_cpu_ms_per_request", 3), ("tokens c8/s", "tokens_c8_per_second", 0),
               ("cpu ms/token", "token_gateway_cpu_ms_per_request", 3)]
    rows = []
    for name in result["sets"]:
        memory = result["bundle_peak_increase_bytes"].get(name)
        same = result["same_answers_as_baseline"].get(name, True)
        rows.append([name] + [_fmt(result[key].get(name), digits) for _, key, digits in columns]
                    + [f"{memory / 1e6:.1f}" if memory is not None else "-", "yes" if same else "NO"])
    return "Prototype variants (each its own gateway process; ms, requests/s, MB)\n" + _table(
        ["variant"] + [title for title, _, _ in columns] + ["bundle peak MB", "same answers"], rows)
