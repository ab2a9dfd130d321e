"""The benchmark's budget check, its printed table, and the list of metrics every result must hold."""

from __future__ import annotations

from typing import Any

TARGETS = ("direct", "nginx", "gateway")
SCENARIOS = ("read", "search", "batch")
CONCURRENCIES = ("1", "8", "32")
COLD_BUDGET_MS = {"metadata_fn": 150.0, "token_fn": 150.0, "fhir_proxy_fn": 300.0}


def required_metric_paths() -> list[tuple[str, ...]]:
    """Every metric a result document must hold (the smoke test checks them all)."""
    paths: list[tuple[str, ...]] = []
    for scenario in SCENARIOS:
        for target in TARGETS:
            paths += [("latency", scenario, target, p) for p in ("p50_ms", "p95_ms", "p99_ms")]
        paths += [("latency", scenario, "added_gateway", p) for p in ("p50_ms", "p95_ms", "p99_ms")]
        paths += [
            ("latency", scenario, "added_nginx", "p50_ms"),
            ("latency", scenario, "ratio_p50_gateway_to_direct"),
            ("latency", scenario, "ratio_p50_gateway_to_nginx"),
        ]
        for concurrency in CONCURRENCIES:
            paths += [("throughput", scenario, concurrency, t, "requests_per_second") for t in TARGETS]
            paths += [
                ("throughput", scenario, concurrency, "ratio_gateway_to_direct"),
                ("throughput", scenario, concurrency, "ratio_gateway_to_nginx"),
            ]
    paths += [
        ("latency", "host_floor", "p50_ms"),
        ("throughput", "host_floor", "8", "requests_per_second"),
        ("large_bundle", "body_bytes"),
        ("large_bundle", "latency", "added_gateway", "p50_ms"),
        ("large_bundle", "latency", "added_nginx", "p50_ms"),
        ("large_bundle", "memory", "peak_increase_first_request_bytes"),
        ("large_bundle", "memory", "peak_increase_to_body_ratio"),
        ("tokens", "tokens_per_second"),
        ("tokens", "verify_us"),
        ("tokens", "storage_calls_per_token"),
        ("generator", "ceiling_requests_per_second"),
        ("steady_state", "none", "storage_calls_per_request"),
        ("steady_state", "none", "identity_calls_per_request"),
        ("bridged", "search", "added_by_bridge", "p50_ms"),
        ("bridged", "bundle", "added_by_bridge", "p50_ms"),
        ("bridged", "memory", "peak_increase_to_body_ratio"),
    ]
    paths += [("cold_start", "modules", module, "min_ms") for module in COLD_BUDGET_MS]
    return paths


def lookup(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def missing_metrics(result: dict[str, Any]) -> list[str]:
    return [".".join(path) for path in required_metric_paths() if lookup(result, path) is None]


def _item(name: str, measured: Any, limit: str, passed: bool | None, unit: str = "") -> dict[str, Any]:
    return {"item": name, "measured": measured, "unit": unit, "budget": limit, "pass": passed}


def evaluate_budget(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's budget, item by item, against this run's figures."""
    items: list[dict[str, Any]] = []
    search = result["latency"]["search"]
    added_p50 = search["added_gateway"]["p50_ms"]
    items.append(
        _item("Added p50 latency, 10-entry search, over direct", added_p50, "<= 1.5 ms", added_p50 <= 1.5, "ms")
    )
    ratio = search["ratio_added_p50_gateway_to_nginx"]
    items.append(
        _item("Added p50 latency, search: gateway / nginx", ratio, "<= 5x", ratio is not None and ratio <= 5, "x")
    )
    share = lookup(result, ("throughput", "search", "8", "ratio_gateway_to_direct"))
    items.append(
        _item(
            "Throughput at concurrency 8, search: gateway / direct",
            share,
            ">= 0.5",
            share is not None and share >= 0.5,
            "x",
        )
    )
    bundle = result["large_bundle"]
    bundle_added = bundle["latency"]["added_gateway"]["p50_ms"]
    items.append(
        _item(
            f"Large Bundle ({bundle['body_bytes'] / 1e6:.1f} MB): added p50 over direct",
            bundle_added,
            "<= 50 ms",
            bundle_added <= 50,
            "ms",
        )
    )
    memory = bundle["memory"]["peak_increase_to_body_ratio"]
    items.append(_item("Large Bundle: gateway peak memory increase / body size", memory, "<= 3x", memory <= 3, "x"))
    bridged = result.get("bridged")
    if bridged:
        added = bridged["search"]["added_by_bridge"]["p50_ms"]
        items.append(
            _item(
                "Version bridge (R4 -> STU3): added p50, 10-entry search, over unbridged",
                added,
                "<= 0.5 ms",
                added <= 0.5,
                "ms",
            )
        )
        added = bridged["bundle"]["added_by_bridge"]["p50_ms"]
        items.append(
            _item(
                "Version bridge: large Bundle converts in (added p50 over unbridged)",
                added,
                "<= 150 ms",
                added <= 150,
                "ms",
            )
        )
        ratio = bridged["memory"]["peak_increase_to_body_ratio"]
        items.append(
            _item("Version bridge: large Bundle peak memory increase / body size", ratio, "<= 4x", ratio <= 4, "x")
        )
    for module, limit in COLD_BUDGET_MS.items():
        measured = lookup(result, ("cold_start", "modules", module, "min_ms"))
        items.append(
            _item(
                f"Cold import of {module} (min)",
                measured,
                f"<= {limit:.0f} ms",
                measured is not None and measured <= limit,
                "ms",
            )
        )
    tokens = result["tokens"]["tokens_per_second"]
    items.append(_item("Token endpoint on one worker", tokens, ">= 500 tokens/s", tokens >= 500, "tokens/s"))
    for method, state in result["steady_state"].items():
        if not isinstance(state, dict) or "skipped" in state:
            continue
        items.append(
            _item(
                f"Storage calls per proxied request ({method} tenant)",
                state["storage_calls_per_request"],
                "0",
                state["storage_calls"] == 0,
            )
        )
        items.append(
            _item(
                f"Identity-provider calls per proxied request ({method} tenant)",
                state["identity_calls_per_request"],
                "0",
                state["identity_provider_calls"] == 0,
            )
        )
    return items


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    return "\n".join(out)


def render(result: dict[str, Any]) -> str:
    """The human-readable summary printed at the end of a run."""
    parts: list[str] = []
    meta = result["meta"]
    parts.append(
        f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), Python {meta['python']}, {meta['nginx']}; "
        f"load average {meta['load_average_start']} -> {meta.get('load_average_end')}; "
        f"pinned={meta['pinned']}; {meta.get('seconds')} s"
    )
    generator = result["generator"]
    ceiling = (
        f"Load generator ceiling (search): python upstream {generator['python_static_upstream']} req/s; "
        f"nginx static files {generator['nginx_static_files']} req/s"
    )
    if "wrk_python_static_upstream" in generator:
        ceiling += f"; wrk vs python upstream {generator['wrk_python_static_upstream']} req/s"
    parts.append(ceiling)

    rows = []
    for scenario in SCENARIOS:
        latency = result["latency"][scenario]
        rows.append(
            [scenario]
            + [_fmt(latency[t][f"{p}_ms"]) for t in TARGETS for p in ("p50", "p99")]
            + [_fmt(latency["added_nginx"]["p50_ms"])]
            + [_fmt(latency["added_gateway"][f"{p}_ms"]) for p in ("p50", "p95", "p99")]
            + [
                _fmt(latency["ratio_p50_gateway_to_direct"], 2),
                _fmt(latency["ratio_p50_gateway_to_nginx"], 2),
                _fmt(latency["ratio_added_p50_gateway_to_nginx"], 1),
            ]
        )
    bundle = result["large_bundle"]["latency"]
    rows.append(
        ["bundle " + f"{result['large_bundle']['body_bytes'] / 1e6:.1f}MB"]
        + [_fmt(bundle[t][f"{p}_ms"], 1) for t in TARGETS for p in ("p50", "p99")]
        + [_fmt(bundle["added_nginx"]["p50_ms"], 1)]
        + [_fmt(bundle["added_gateway"][f"{p}_ms"], 1) for p in ("p50", "p95", "p99")]
        + [_fmt(bundle["ratio_p50_gateway_to_direct"], 2), _fmt(bundle["ratio_p50_gateway_to_nginx"], 2), "-"]
    )
    parts.append(
        "Latency at concurrency 1 (ms)\n"
        + _table(
            [
                "request",
                "direct p50",
                "direct p99",
                "nginx p50",
                "nginx p99",
                "gw p50",
                "gw p99",
                "nginx +p50",
                "gw +p50",
                "gw +p95",
                "gw +p99",
                "gw/direct",
                "gw/nginx",
                "gw+/nginx+",
            ],
            rows,
        )
    )

    rows = []
    for scenario in SCENARIOS:
        for concurrency in CONCURRENCIES:
            run = result["throughput"][scenario].get(concurrency)
            if run is None:
                continue
            rows.append(
                [f"{scenario} c={concurrency}"]
                + [_fmt(run[t]["requests_per_second"], 0) for t in TARGETS]
                + [_fmt(run["ratio_gateway_to_direct"], 3), _fmt(run["ratio_gateway_to_nginx"], 3)]
                + [_fmt(run[t].get("cpu_ms_per_request"), 3) for t in TARGETS]
                + [str(sum(run[t]["errors"] for t in TARGETS))]
            )
    parts.append(
        "Throughput (requests/s, median of rounds; CPU ms per request of each hop's own process)\n"
        + _table(
            [
                "request",
                "direct",
                "nginx",
                "gateway",
                "gw/direct",
                "gw/nginx",
                "upstream cpu",
                "nginx cpu",
                "gw cpu",
                "errors",
            ],
            rows,
        )
    )

    floor, floor_rate = result["latency"].get("host_floor"), result["throughput"].get("host_floor", {}).get("8")
    if floor and floor_rate:
        search = result["latency"]["search"]["gateway"]["p50_ms"]
        search_cpu = result["throughput"]["search"]["8"]["gateway"].get("cpu_ms_per_request")
        parts.append(
            f"Local host floor (waitress + local_host + azure.functions around authorize_fn, which only "
            f"answers 400): p50 {floor['p50_ms']:.3f} ms at c=1, {floor_rate['requests_per_second']:.0f} "
            f"req/s and {floor_rate.get('cpu_ms_per_request')} CPU ms/request at c=8 "
            f"(gateway search: p50 {search:.3f} ms, {search_cpu} CPU ms/request)"
        )
    memory = result["large_bundle"]["memory"]
    tokens = result["tokens"]
    parts.append(
        f"Large Bundle: body {result['large_bundle']['body_bytes']:,} B; gateway RSS before "
        f"{memory['gateway_rss_before_bytes'] / 1e6:.1f} MB, peak increase "
        f"{memory['peak_increase_first_request_bytes'] / 1e6:.1f} MB (first request) = "
        f"{memory['peak_increase_to_body_ratio']}x the body\n"
        f"Tokens: {tokens['1']['requests_per_second']:.0f}/s at c=1, {tokens['8']['requests_per_second']:.0f}/s at c=8 "
        f"({tokens['gateway_threads']} threads, {tokens['8'].get('cpu_ms_per_request')} gateway CPU ms per token); "
        f"{tokens['storage_calls_per_token']} storage calls per token; "
        f"issue {tokens['in_process']['issue_us']} us, verify {tokens['verify_us']} us in-process"
    )
    bridged = result.get("bridged")
    if bridged:
        rows = [
            [name]
            + [_fmt(bridged[name][t]["p50_ms"], 3) for t in ("direct", "unbridged", "bridged")]
            + [_fmt(bridged[name]["added_by_bridge"][f"{p}_ms"], 3) for p in ("p50", "p95", "p99")]
            for name in ("search", "bundle")
        ]
        memory = bridged["memory"]
        parts.append(
            "Version bridge, R4 upstream behind the STU3 gateway (ms; added = bridged - unbridged)\n"
            + _table(
                ["request", "direct p50", "unbridged p50", "bridged p50", "added p50", "added p95", "added p99"], rows
            )
            + f"\nLarge Bundle peak memory increase: bridged {memory['peak_increase_to_body_ratio']}x the "
            f"body, unbridged {memory['unbridged_peak_increase_to_body_ratio']}x "
            "(the first large answer of a process)"
        )
    rows = [
        [
            module,
            _fmt(data["min_ms"], 1),
            _fmt(data["median_ms"], 1),
            _fmt(data.get("cpu_min_ms"), 1),
            _fmt(data["no_bytecode_min_ms"], 1),
            _fmt(data.get("after_azure_functions_min_ms"), 1),
            ", ".join(f"{i['package']} {i['self_ms']}" for i in data["largest_imports"][:4]),
        ]
        for module, data in result["cold_start"]["modules"].items()
    ]
    parts.append(
        "Cold import (ms, fresh interpreter)\n"
        + _table(
            [
                "module",
                "min",
                "median",
                "CPU min",
                "no .pyc min",
                "after azure.functions",
                "largest self import times (ms)",
            ],
            rows,
        )
    )
    steady = result["steady_state"]
    parts.append(
        "Steady state per proxied request: "
        + "; ".join(
            f"{method}: {s.get('storage_calls', '-')} storage / {s.get('identity_provider_calls', '-')} identity calls "
            f"in {s.get('proxied_requests', '-')} requests"
            if "skipped" not in s
            else f"{method}: skipped"
            for method, s in steady.items()
            if isinstance(s, dict)
        )
        + f" (cold first requests: {steady.get('cold_first_requests_storage_calls')} storage calls)"
    )
    rows = [[i["item"], _fmt(i["measured"]), i["budget"], "PASS" if i["pass"] else "FAIL"] for i in result["budget"]]
    parts.append("Budget\n" + _table(["item", "measured", "budget", "result"], rows))
    return "\n\n".join(parts)
