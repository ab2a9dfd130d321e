"""The benchmark run: direct, nginx and gateway measured in interleaved rounds on one machine."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bench import bridged, many_hosts, static_upstream
from bench.cold_start import measure_cold_start
from bench.gateway import GATEWAY_THREADS, TENANT_AZURE_AD, TENANT_NONE, Gateway, bundle_memory, process_memory
from bench.load import LatencyStats, RequestSpec, Target, fetch, latency_samples, measure_throughput
from bench.micro import gateway_token_costs, run_micro
from bench.nginx import Nginx, ensure_nginx, proxy_config, static_config
from bench.relay import RELAY, Relay
from bench.rounds import latency_in_rounds, throughput_in_rounds
from bench.sampler import Sampler, find_py_spy
from devtools.azurite import REPO, free_port

Say = Callable[[str], None]
TARGETS = ("direct", "nginx", "gateway")
SMALL_SCENARIOS = ("read", "search", "batch")


@dataclass(frozen=True)
class Sizes:
    """How much of everything one run does."""

    latency_requests: int  # per target and scenario, over all rounds
    rounds: int  # targets take turns this many times, so background load hits them alike
    throughput_seconds: float  # per target, scenario and concurrency, over all rounds
    warmup_seconds: float  # before each throughput window
    concurrencies: tuple[int, ...]
    bundle_entries: int
    bundle_requests: int  # per target, over all rounds
    token_seconds: float
    steady_requests: int  # per scenario and tenant
    cold_runs: int
    micro_repeat: int
    ceiling_seconds: float
    profile_seconds: float
    cold_modules: tuple[str, ...] = ()  # function folders to import; () means every one
    provider_hosts: int = many_hosts.HOSTS  # the many-hosts case's providers, one loopback port each


FULL = Sizes(2000, 5, 3.0, 0.2, (1, 8, 32), 1000, 20, 3.0, 300, 9, 5, 2.0, 8.0)
TINY = Sizes(
    30, 1, 0.25, 0.05, (1, 8, 32), 40, 2, 0.3, 5, 1, 1, 0.2, 1.0, ("metadata_fn", "token_fn", "fhir_proxy_fn"), 8
)


def scenarios(bundle_entries: int) -> dict[str, RequestSpec]:
    batch = json.dumps(static_upstream.batch_request()).encode("utf-8")
    return {
        "read": RequestSpec("read", "GET", "Patient/bench-1"),
        "search": RequestSpec("search", "GET", "Patient?family=smith&_count=10"),
        "batch": RequestSpec("batch", "POST", "", batch, "application/fhir+json"),
        "bundle": RequestSpec("bundle", "GET", f"Observation?patient=bench-1&_count={bundle_entries}"),
    }


class StaticUpstream:
    """bench.static_upstream in its own process (its own GIL and event loop)."""

    def __init__(self, documents: Path, port: int, preexec: Callable[[], None] | None) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.static_upstream", "--docs", str(documents), "--port", str(port)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            preexec_fn=preexec,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("listening"):
            self.stop()
            raise RuntimeError("the static upstream did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> StaticUpstream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


# -- correctness of what is being timed ------------------------------------------------------------------------
def check_answers(
    targets: dict[str, Target], specs: dict[str, RequestSpec], upstream_base: str, gateway_fhir_base: str
) -> dict[str, Any]:
    """Every target answers every small scenario with 200 FHIR JSON; the gateway's answers carry no provider URL."""
    checks: dict[str, Any] = {}
    for name, target in targets.items():
        for scenario in SMALL_SCENARIOS:
            status, _, body = fetch(target, specs[scenario])
            document = json.loads(body)
            ok = status == 200 and isinstance(document, dict) and "resourceType" in document
            if name == "gateway" and scenario != "read":
                ok = ok and upstream_base.encode() not in body and gateway_fhir_base.encode() in body
            checks[f"{name}/{scenario}"] = {"status": status, "bytes": len(body), "ok": ok}
            if not ok:
                raise RuntimeError(f"{name} answered {scenario} wrongly: {status} {body[:300]!r}")
    return checks


# -- steady state: storage and identity-provider calls per proxied request -------------------------------------
def steady_state(gateway: Gateway, specs: dict[str, RequestSpec], requests: int) -> dict[str, Any]:
    tenants = {"none": TENANT_NONE}
    if gateway.identity is not None:
        tenants["azure_ad"] = TENANT_AZURE_AD
    result: dict[str, Any] = {}
    for method, tenant_id in tenants.items():
        target = gateway.target(gateway.token(tenant_id))
        for scenario in SMALL_SCENARIOS:  # warm: registry caches, MSAL token cache, pooled connections
            status, _, body = fetch(target, specs[scenario])
            if status != 200:
                raise RuntimeError(f"warm-up {method}/{scenario} answered {status}: {body[:300]!r}")
        storage_before = gateway.storage.requests_served()
        identity_before = gateway.identity.token_requests() if gateway.identity else 0
        identity_all_before = len(gateway.identity.authority.requests) if gateway.identity else 0
        done = errors = 0
        for scenario in SMALL_SCENARIOS:
            samples, failed = latency_samples(target, specs[scenario], requests, warmup=0)
            done += len(samples)
            errors += failed
        storage = gateway.storage.requests_served() - storage_before
        identity = (len(gateway.identity.authority.requests) - identity_all_before) if gateway.identity else 0
        token_calls = (gateway.identity.token_requests() - identity_before) if gateway.identity else 0
        result[method] = {
            "proxied_requests": done,
            "errors": errors,
            "storage_calls": storage,
            "identity_provider_calls": identity,
            "identity_provider_token_requests": token_calls,
            "storage_calls_per_request": storage / done if done else None,
            "identity_calls_per_request": identity / done if done else None,
        }
    if gateway.identity is None:
        result["azure_ad"] = {"skipped": "devtools.local_authority is not available"}
    return result


# -- measurements in rounds ------------------------------------------------------------------------------------------
def added(latency: dict[str, Any], proxy: str) -> dict[str, float]:
    return {
        f"{p}_ms": round(latency[proxy][f"{p}_ms"] - latency["direct"][f"{p}_ms"], 4) for p in ("p50", "p95", "p99")
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def _latency_summary(latency: dict[str, Any]) -> dict[str, Any]:
    gateway_added, nginx_added = added(latency, "gateway"), added(latency, "nginx")
    return {
        **latency,
        "added_gateway": gateway_added,
        "added_nginx": nginx_added,
        "ratio_p50_gateway_to_direct": _ratio(latency["gateway"]["p50_ms"], latency["direct"]["p50_ms"]),
        "ratio_p50_gateway_to_nginx": _ratio(latency["gateway"]["p50_ms"], latency["nginx"]["p50_ms"]),
        "ratio_added_p50_gateway_to_nginx": _ratio(gateway_added["p50_ms"], nginx_added["p50_ms"]),
    }


# The local host's own floor: waitress, local_host and azure.functions around a function that does nothing much.
HOST_FLOOR = RequestSpec("host_floor", "GET", "/oauth2/authorize", expected_status=400, absolute=True)


def latency_section(
    targets: dict[str, Target], specs: dict[str, RequestSpec], sizes: Sizes, say: Say
) -> dict[str, Any]:
    points = {
        (scenario, name): (target, specs[scenario]) for scenario in SMALL_SCENARIOS for name, target in targets.items()
    }
    points[("host_floor", "gateway")] = (targets["gateway"], HOST_FLOOR)
    measured = latency_in_rounds(points, sizes.latency_requests, sizes.rounds, say, "latency at concurrency 1")
    section: dict[str, Any] = {
        scenario: _latency_summary({name: measured[(scenario, name)] for name in targets})
        for scenario in SMALL_SCENARIOS
    }
    section["host_floor"] = measured[("host_floor", "gateway")]
    return section


def throughput_section(
    targets: dict[str, Target],
    specs: dict[str, RequestSpec],
    sizes: Sizes,
    say: Say,
    pids: dict[str, list[int]],
    relay: Target | None = None,
) -> dict[str, Any]:
    points = {
        (scenario, concurrency, name): (target, specs[scenario], concurrency)
        for scenario in SMALL_SCENARIOS
        for concurrency in sizes.concurrencies
        for name, target in targets.items()
    }
    points[("host_floor", 8, "gateway")] = (targets["gateway"], HOST_FLOOR, 8)
    if relay is not None:
        points[("relay", 8, "relay")] = (relay, RELAY, 8)
    measured = throughput_in_rounds(
        points,
        sizes.throughput_seconds,
        sizes.rounds,
        sizes.warmup_seconds,
        {key: pids[key[2]] for key in points if key[2] in pids},
        say,
        "throughput",
    )
    section: dict[str, Any] = {"host_floor": {"8": measured[("host_floor", 8, "gateway")]}}
    if relay is not None:
        section["relay"] = {"8": measured[("relay", 8, "relay")]}
    for scenario in SMALL_SCENARIOS:
        section[scenario] = {}
        for concurrency in sizes.concurrencies:
            run = {name: measured[(scenario, concurrency, name)] for name in targets}
            rps = {name: run[name]["requests_per_second"] for name in targets}
            section[scenario][str(concurrency)] = {
                **run,
                "ratio_gateway_to_direct": _ratio(rps["gateway"], rps["direct"]),
                "ratio_gateway_to_nginx": _ratio(rps["gateway"], rps["nginx"]),
            }
    return section


def gateway_cpu_against_floor(throughput: dict[str, Any]) -> dict[str, Any]:
    """The gateway's CPU per search at concurrency 8 next to the local host's floor measured in the same rounds,
    and, for scale, a bare relay's (bench/relay.py: the same search forwarded with nothing else done)."""
    search = throughput["search"]["8"]["gateway"].get("cpu_ms_per_request")
    floor = throughput["host_floor"]["8"].get("cpu_ms_per_request")
    relay = throughput.get("relay", {}).get("8", {}).get("cpu_ms_per_request")
    return {
        "search_cpu_ms_per_request": search,
        "host_floor_cpu_ms_per_request": floor,
        "ratio_search_to_floor": round(search / floor, 3) if search and floor else None,
        "bare_relay_cpu_ms_per_request": relay,
        "ratio_bare_relay_to_floor": round(relay / floor, 3) if relay and floor else None,
    }


def generator_ceiling(direct: Target, static_nginx: Target, spec: RequestSpec, sizes: Sizes) -> dict[str, Any]:
    """How fast the load generator itself can go: against the static upstream and against nginx serving files."""
    result: dict[str, Any] = {"python_static_upstream": {}, "nginx_static_files": {}}
    for concurrency in sizes.concurrencies:
        for key, target in (("python_static_upstream", direct), ("nginx_static_files", static_nginx)):
            run = measure_throughput(target, spec, concurrency, sizes.ceiling_seconds, sizes.warmup_seconds)
            result[key][str(concurrency)] = round(run.requests_per_second, 1)
    result["ceiling_requests_per_second"] = max(
        v for k in ("python_static_upstream", "nginx_static_files") for v in result[k].values()
    )
    wrk = shutil.which("wrk")
    if wrk and sizes.ceiling_seconds >= 1:
        result["wrk_python_static_upstream"] = {}
        for concurrency in sizes.concurrencies:
            url = direct.base_url + "/" + spec.path
            completed = subprocess.run(
                [wrk, "-t", "1", "-c", str(concurrency), "-d", f"{max(1, round(sizes.ceiling_seconds))}s", url],
                capture_output=True,
                text=True,
                check=False,
            )
            rate = next(
                (line.split()[1] for line in completed.stdout.splitlines() if line.startswith("Requests/sec:")), None
            )
            result["wrk_python_static_upstream"][str(concurrency)] = float(rate) if rate else None
    return result


def bundle_latency(targets: dict[str, Target], spec: RequestSpec, sizes: Sizes) -> dict[str, Any]:
    points = {name: (target, spec) for name, target in targets.items()}
    latency = latency_in_rounds(points, sizes.bundle_requests, max(1, min(sizes.rounds, sizes.bundle_requests)))
    summary = _latency_summary(latency)
    summary.pop("ratio_added_p50_gateway_to_nginx")
    return summary


def token_section(gateway: Gateway, sizes: Sizes, say: Say) -> dict[str, Any]:
    """Tokens per second from one gateway worker process over HTTP; storage calls per token; sign/verify times."""
    plain = Target("gateway", "127.0.0.1", gateway.port)
    spec = gateway.token_request(TENANT_NONE)
    result: dict[str, Any] = {"gateway_threads": gateway.threads}
    storage_before = gateway.storage.requests_served()
    samples, errors = latency_samples(plain, spec, 20, warmup=0)
    issued = len(samples)
    result["latency_c1"] = LatencyStats.of(samples, errors).as_dict()
    result["storage_calls_per_token"] = (
        round((gateway.storage.requests_served() - storage_before) / issued, 2) if issued else None
    )
    points = {concurrency: (plain, spec, concurrency) for concurrency in (1, 8)}
    measured = throughput_in_rounds(
        points,
        sizes.token_seconds,
        sizes.rounds,
        sizes.warmup_seconds,
        {concurrency: [gateway.pid] for concurrency in points},
        say,
        "token endpoint",
    )
    for concurrency, run in measured.items():
        result[str(concurrency)] = run
    result["tokens_per_second"] = max(result["1"]["requests_per_second"], result["8"]["requests_per_second"])
    result["in_process"] = gateway_token_costs(
        gateway.client_id, TENANT_NONE, gateway.secret_id, max(3, sizes.micro_repeat)
    )
    result["verify_us"] = result["in_process"]["verify_us"]
    return result


def profile_section(
    gateway: Gateway, target: Target, specs: dict[str, RequestSpec], sizes: Sizes, folder: Path, say: Say
) -> dict[str, Any]:
    binary = find_py_spy()
    if binary is None:
        return {"skipped": "py-spy is not installed (pip install py-spy into the venv)"}
    result: dict[str, Any] = {}
    for scenario, concurrency in (("search", 8), ("bundle", 1)):
        say(f"profiling the gateway with py-spy: {scenario} at concurrency {concurrency} ...")
        sampler = Sampler(binary, gateway.pid, sizes.profile_seconds, folder / f"profile-{scenario}.txt")
        time.sleep(0.3)  # py-spy attaches
        measure_throughput(target, specs[scenario], concurrency, sizes.profile_seconds, 0.0)
        result[f"{scenario}_c{concurrency}"] = sampler.wait()
    return result


def machine(nginx_binary: str) -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    nginx_version = subprocess.run([nginx_binary, "-v"], capture_output=True, text=True, check=False).stderr.strip()
    return {
        "hostname": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": nginx_version,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def run(
    sizes: Sizes, *, pin: bool = False, profile: bool = False, micro: bool = True, say: Say = print
) -> dict[str, Any]:
    """One complete benchmark run; returns the result document (see bench/README.md)."""
    started = time.time()
    cpus = sorted(os.sched_getaffinity(0))
    pinned = pin and len(cpus) >= 2
    preexec: Callable[[], None] | None = None
    if pinned:
        servers = set(cpus[1:])
        os.sched_setaffinity(0, {cpus[0]})

        def preexec() -> None:
            os.sched_setaffinity(0, servers)

    nginx_binary = ensure_nginx(say)
    result: dict[str, Any] = {
        "meta": {
            **machine(nginx_binary),
            "sizes": asdict(sizes),
            "pinned": pinned,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        }
    }
    specs = scenarios(sizes.bundle_entries)
    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        stack.callback(shutil.rmtree, folder, True)
        folder.chmod(0o755)  # nginx workers (nobody) read the documents
        upstream_port = free_port()
        upstream_base = f"http://127.0.0.1:{upstream_port}/fhir"
        documents = folder / "documents"
        sizes_written = static_upstream.write_documents(documents, upstream_base, sizes.bundle_entries)
        documents.chmod(0o755)
        result["documents_bytes"] = sizes_written
        say("starting the static upstream, nginx (proxy and static), Azurite and the gateway ...")
        upstream = stack.enter_context(StaticUpstream(documents, upstream_port, preexec))
        proxy = stack.enter_context(
            Nginx(nginx_binary, lambda f, p: proxy_config(f, p, upstream_port), preexec=preexec)
        )
        static_files = stack.enter_context(
            Nginx(nginx_binary, lambda f, p: static_config(f, p, documents), preexec=preexec)
        )
        gateway = stack.enter_context(Gateway(upstream_base, preexec=preexec))
        storage_before_first_requests = gateway.storage.requests_served()
        gateway_target = gateway.target(gateway.token(TENANT_NONE))
        targets = {
            "direct": Target("direct", "127.0.0.1", upstream_port),
            "nginx": Target("nginx", "127.0.0.1", proxy.port),
            "gateway": gateway_target,
        }
        result["checks"] = check_answers(targets, specs, upstream_base, gateway.public_base + "/fhir")
        say("steady state: storage and identity-provider calls per proxied request ...")
        # The counter works: the first token and the first proxied requests (cold caches) reach storage.
        cold_calls = gateway.storage.requests_served() - storage_before_first_requests
        result["steady_state"] = {
            **steady_state(gateway, specs, sizes.steady_requests),
            "cold_first_requests_storage_calls": cold_calls,
        }
        say("large Bundle: gateway peak memory ...")
        memory = bundle_memory(gateway, gateway_target, specs["bundle"], min(3, sizes.bundle_requests))
        say("load generator ceiling ...")
        static_target = Target("nginx_static", "127.0.0.1", static_files.port)
        result["generator"] = generator_ceiling(targets["direct"], static_target, specs["search"], sizes)
        result["latency"] = latency_section(targets, specs, sizes, say)
        # CPU of each hop's own process: the static upstream, the nginx worker, the gateway.
        relay = stack.enter_context(Relay(f"{upstream_base}/{specs['search'].path}", folder, GATEWAY_THREADS, preexec))
        pids = {
            "direct": [upstream.process.pid],
            "nginx": proxy.worker_pids(),
            "gateway": [gateway.pid],
            "relay": [relay.process.pid],
        }
        result["throughput"] = throughput_section(targets, specs, sizes, say, pids, relay.target)
        result["gateway_cpu"] = gateway_cpu_against_floor(result["throughput"])
        say(f"many provider hosts: {sizes.provider_hosts} providers, one loopback port each ...")
        providers = stack.enter_context(
            many_hosts.ManyProviders(folder, sizes.provider_hosts, many_hosts.server_certificate(gateway), preexec)
        )
        result["many_hosts"] = many_hosts.many_hosts_section(
            gateway, providers, specs["search"], sizes.throughput_seconds, sizes.rounds, sizes.warmup_seconds, say
        )
        say("large Bundle: latency ...")
        body_bytes = sizes_written[static_upstream.BUNDLE_FILE]
        result["large_bundle"] = {
            "entries": sizes.bundle_entries,
            "body_bytes": body_bytes,
            "latency": bundle_latency(targets, specs["bundle"], sizes),
            "memory": {
                **memory,
                "peak_increase_to_body_ratio": round(memory["peak_increase_first_request_bytes"] / body_bytes, 2),
            },
        }
        say("version bridge: an R4 upstream behind the STU3 gateway ...")
        r4_port = free_port()
        r4_documents = folder / "documents-r4"
        bridged.write_r4_documents(r4_documents, f"http://127.0.0.1:{r4_port}/fhir", sizes.bundle_entries)
        stack.enter_context(StaticUpstream(r4_documents, r4_port, preexec))
        result["bridged"] = bridged.bridged_section(
            gateway,
            gateway_target,
            bridged.onboard_r4(gateway, f"http://127.0.0.1:{r4_port}/fhir"),
            Target("direct_r4", "127.0.0.1", r4_port),
            specs,
            sizes.latency_requests,
            sizes.bundle_requests,
            memory,
            body_bytes,
            say,
        )
        result["tokens"] = token_section(gateway, sizes, say)
        if profile:
            result["profile"] = profile_section(gateway, gateway_target, specs, sizes, folder, say)
        if micro:
            say("in-process micro-benchmarks (rewrite, JSON codecs, JWT keys, HTTP clients) ...")
            result["micro"] = run_micro(
                (documents / static_upstream.BUNDLE_FILE).read_bytes(),
                (documents / static_upstream.SEARCH_FILE).read_bytes(),
                upstream_base,
                gateway.public_base + "/fhir",
                f"{upstream_base}/{specs['search'].path}",
                sizes.micro_repeat,
            )
        result["gateway_process"] = {
            "threads": gateway.threads,
            **process_memory(gateway.pid),
            "stderr_tail": gateway.stderr_tail(600) if gateway.process and gateway.process.poll() is not None else "",
        }
    say("cold start: importing each function module in fresh interpreters ...")
    result["cold_start"] = measure_cold_start(sizes.cold_runs, list(sizes.cold_modules) or None)
    result["meta"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["meta"]["seconds"] = round(time.time() - started, 1)
    return result
