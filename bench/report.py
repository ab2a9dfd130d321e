"""The benchmark's budget check (the budget is bench/budget.json), its printed table, the list of metrics every result
must hold, and the READMEs' generated performance tables (`python -m bench.report --readme <result.json>`)."""

from __future__ import annotations

import argparse
import json
import operator
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGETS = ("direct", "nginx", "gateway")
SCENARIOS = ("read", "search", "batch")
CONCURRENCIES = ("1", "8", "32")
COLD_MODULES = ("metadata_fn", "token_fn", "fhir_proxy_fn")


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
            ("latency", scenario, "ratio_added_p50_gateway_to_nginx"),
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
        ("gateway_cpu", "ratio_search_to_floor"),
        ("many_hosts", "one_host", "cpu_ms_per_request"),
        ("many_hosts", "many_hosts", "cpu_ms_per_request"),
        ("many_hosts", "ratio_cpu_many_to_one"),
    ]
    paths += [("cold_start", "modules", module, "min_ms") for module in COLD_MODULES]
    return paths


def lookup(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def missing_metrics(result: dict[str, Any]) -> list[str]:
    return [".".join(path) for path in required_metric_paths() if lookup(result, path) is None]


BUDGET_FILE = Path(__file__).resolve().parent / "budget.json"
_COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class BudgetItem:
    """One line of bench/budget.json: a metric path in the result document, a comparison and a limit."""

    item: str
    metric: str
    compare: str
    limit: float
    unit: str
    optional: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.metric.split("."))

    @property
    def budget(self) -> str:
        return f"{self.compare} {self.limit:g}{' ' + self.unit if self.unit else ''}"


def load_budget(path: Path = BUDGET_FILE) -> list[BudgetItem]:
    items = [BudgetItem(**entry) for entry in json.loads(path.read_text())["items"]]
    for entry in items:
        if entry.compare not in _COMPARE:
            raise ValueError(f"{path}: {entry.item!r} compares with {entry.compare!r}, not one of {sorted(_COMPARE)}")
    return items


def evaluate_budget(result: dict[str, Any], budget: list[BudgetItem] | None = None) -> list[dict[str, Any]]:
    """The budget, item by item, against this run's figures (an absent optional metric leaves its item out)."""
    items: list[dict[str, Any]] = []
    for entry in budget if budget is not None else load_budget():
        measured = lookup(result, entry.path)
        if measured is None and entry.optional:
            continue
        passed = isinstance(measured, int | float) and _COMPARE[entry.compare](measured, entry.limit)
        items.append(
            {
                "item": entry.item,
                "metric": entry.metric,
                "measured": measured,
                "unit": entry.unit,
                "budget": entry.budget,
                "pass": passed,
            }
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
    cpu, hosts = result.get("gateway_cpu"), result.get("many_hosts")
    if cpu:
        parts.append(
            f"Gateway CPU per search at c=8: {cpu['search_cpu_ms_per_request']} ms = "
            f"{cpu['ratio_search_to_floor']}x the local host's floor ({cpu['host_floor_cpu_ms_per_request']} ms); "
            f"a bare relay {cpu.get('bare_relay_cpu_ms_per_request')} ms = {cpu.get('ratio_bare_relay_to_floor')}x"
        )
    if hosts:
        parts.append(
            f"Many provider hosts ({hosts['hosts']} over {hosts['scheme']}, c={hosts['concurrency']}): gateway CPU "
            f"{hosts['one_host'].get('cpu_ms_per_request')} ms per search to one host, "
            f"{hosts['many_hosts'].get('cpu_ms_per_request')} ms rotating over all = {hosts['ratio_cpu_many_to_one']}x "
            f"({hosts['one_host']['requests_per_second']:.0f} vs {hosts['many_hosts']['requests_per_second']:.0f} "
            f"req/s, {hosts['one_host']['errors'] + hosts['many_hosts']['errors']} errors)"
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


# -- the READMEs' performance tables, generated from a committed result file ------------------------------------
REPO = Path(__file__).resolve().parent.parent
READMES = (REPO / "README.md", REPO / "bench" / "README.md")
_BLOCK = re.compile(
    r"<!-- bench-table: generated by `python -m bench\.report --readme (?P<source>[^`]+)`; do not edit -->\n"
    r".*?<!-- bench-table: end -->",
    re.DOTALL,
)


def _measured(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".rstrip()


def readme_block(result: dict[str, Any], source: str) -> str:
    """The Markdown block the READMEs hold for `result` (read from `source`, relative to the repository)."""
    meta = result["meta"]
    lines = [
        f"<!-- bench-table: generated by `python -m bench.report --readme {source}`; do not edit -->",
        f"Run of {meta['started']} ({meta.get('seconds')} s) on {meta['cpus']} CPUs ({meta['cpu_model']}), "
        f"Python {meta['python']}, {meta['nginx']}; load average {meta['load_average_start']} -> "
        f"{meta.get('load_average_end')}; result file `{source}`.",
        "",
        "| Budget item | Measured | Budget | Result |",
        "|---|---|---|---|",
    ]
    for item in result["budget"]:
        verdict = "pass" if item["pass"] else "**miss**"
        lines.append(f"| {item['item']} | {_measured(item['measured'], item['unit'])} | {item['budget']} | {verdict} |")
    cpu = result.get("gateway_cpu", {})
    hosts = result.get("many_hosts", {})
    lines += [
        "",
        f"Gateway CPU per search at concurrency 8: {cpu.get('search_cpu_ms_per_request')} ms, the local host's floor "
        f"(waitress, the local host and `azure.functions` around a function that answers at once) "
        f"{cpu.get('host_floor_cpu_ms_per_request')} ms in the same rounds; a bare relay on the same host (the "
        f"search forwarded with the gateway's upstream client and nothing else done: bench/relay.py) "
        f"{cpu.get('bare_relay_cpu_ms_per_request')} ms, {cpu.get('ratio_bare_relay_to_floor')}x the floor. "
        f"Many provider hosts "
        f"({hosts.get('hosts')} providers over {hosts.get('scheme')}, one loopback port each): "
        f"{lookup(hosts, ('one_host', 'cpu_ms_per_request'))} CPU ms per search when every search goes to one of "
        f"them, {lookup(hosts, ('many_hosts', 'cpu_ms_per_request'))} ms when each goes to the next.",
        "<!-- bench-table: end -->",
    ]
    return "\n".join(lines)


def rewrite_readme(text: str, result: dict[str, Any], source: str) -> str:
    """`text` with its generated block replaced by the rendering of `result`; ValueError when it has none."""
    if not _BLOCK.search(text):
        raise ValueError("no generated bench-table block")
    return _BLOCK.sub(lambda _: readme_block(result, source), text, count=1)


def readme_sources(text: str) -> list[str]:
    """The result files the generated blocks in `text` were rendered from."""
    return [match.group("source") for match in _BLOCK.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--readme", type=Path, required=True, help="result file to render into README.md and bench/")
    parser.add_argument("--check", action="store_true", help="only say whether the READMEs match it (exit 1 if not)")
    args = parser.parse_args(argv)
    path = args.readme.resolve()
    source = path.relative_to(REPO).as_posix()
    result = json.loads(path.read_text())
    result["budget"] = evaluate_budget(result)  # the budget as it stands, against the figures of that run
    stale = []
    for readme in READMES:
        text = readme.read_text()
        updated = rewrite_readme(text, result, source)
        if updated != text:
            stale.append(readme.relative_to(REPO).as_posix())
            if not args.check:
                readme.write_text(updated)
    verb = "differ from" if args.check else "rewritten from"
    print(f"{', '.join(stale) or 'no README'} {verb} {source}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
