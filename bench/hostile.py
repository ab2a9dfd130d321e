"""`python -m bench.hostile`: another tenant's read latency while a hostile R4 provider's answers reach the bridge.

The hostile provider answers a Patient read with an element STU3 lacks holding 1,000,000 integers (2 MB), and
a search with a 100,000-entry Bundle; HOSTILE_CLIENTS threads request them in a loop through the STU3 gateway
while one client reads a Patient of the unbridged tenant. Prints the benign read's latency alone and during the
attack, what the hostile requests got, and the gateway's memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import bridged, static_upstream
from bench.gateway import TENANT_NONE, Gateway, process_memory
from bench.load import RequestSpec, Target, fetch, measure_latency
from bench.run import StaticUpstream
from devtools.azurite import free_port

HOSTILE_CLIENTS = 4
READ = RequestSpec("read", "GET", "Patient/bench-1")
AMPLIFYING_READ = RequestSpec("amplifying Patient (2 MB)", "GET", "Patient/bench-1")
HUGE_SEARCH = RequestSpec("100,000-entry Bundle", "GET", "Observation?patient=bench-1")


def write_hostile_documents(directory: Path, base_url: str, entries: int) -> dict[str, int]:
    """An R4 provider whose Patient amplifies and whose Observation search is a Bundle of `entries` entries."""
    sizes = bridged.write_r4_documents(directory, base_url, 10)
    patient = b'{"resourceType":"Patient","id":"bench-1","unknownElement":[' + b",".join([b"1"] * 1_000_000) + b"]}"
    (directory / static_upstream.PATIENT_FILE).write_bytes(patient)
    entry_list = ",".join(
        f'{{"fullUrl":"{base_url}/Patient/p{n}","resource":{{"resourceType":"Patient","id":"p{n}","active":true}}}}'
        for n in range(entries)
    )
    bundle = f'{{"resourceType":"Bundle","type":"searchset","total":{entries},"entry":[{entry_list}]}}'
    (directory / static_upstream.BUNDLE_FILE).write_text(bundle)
    sizes[static_upstream.PATIENT_FILE] = len(patient)
    sizes[static_upstream.BUNDLE_FILE] = len(bundle)
    return sizes


def attack(target: Target, stop: threading.Event, outcomes: list[tuple[str, int, float, int]]) -> None:
    spec_index = 0
    while not stop.is_set():
        spec = (AMPLIFYING_READ, HUGE_SEARCH)[spec_index % 2]
        spec_index += 1
        started = time.perf_counter()
        try:
            status, _, body = fetch(target, spec)
        except OSError:
            status, body = 0, b""
        outcomes.append((spec.name, status, time.perf_counter() - started, len(body)))


def run(requests: int, entries: int) -> dict[str, Any]:
    with ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
        stack.callback(shutil.rmtree, folder, True)
        port, r4_port = free_port(), free_port()
        upstream_base, r4_base = f"http://127.0.0.1:{port}/fhir", f"http://127.0.0.1:{r4_port}/fhir"
        static_upstream.write_documents(folder / "benign", upstream_base, 10)
        sizes = write_hostile_documents(folder / "hostile", r4_base, entries)
        stack.enter_context(StaticUpstream(folder / "benign", port, None))
        stack.enter_context(StaticUpstream(folder / "hostile", r4_port, None))
        gateway = stack.enter_context(Gateway(upstream_base))
        benign = gateway.target(gateway.token(TENANT_NONE))
        hostile = bridged.onboard_r4(gateway, r4_base)
        alone = measure_latency(benign, READ, requests)
        memory_before = process_memory(gateway.pid)
        stop = threading.Event()
        outcomes: list[tuple[str, int, float, int]] = []
        threads = [threading.Thread(target=attack, args=(hostile, stop, outcomes)) for _ in range(HOSTILE_CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # the attack under way
        during = measure_latency(benign, READ, requests)
        stop.set()
        for thread in threads:
            thread.join()
        memory_after = process_memory(gateway.pid)
    by_kind: dict[str, Any] = {}
    for name in (AMPLIFYING_READ.name, HUGE_SEARCH.name):
        mine = [o for o in outcomes if o[0] == name]
        by_kind[name] = {
            "requests": len(mine),
            "statuses": dict(Counter(o[1] for o in mine)),
            "mean_seconds": round(sum(o[2] for o in mine) / len(mine), 3) if mine else None,
            "max_answer_bytes": max((o[3] for o in mine), default=0),
        }
    return {
        "provider_bytes": {
            "patient": sizes[static_upstream.PATIENT_FILE],
            "bundle": sizes[static_upstream.BUNDLE_FILE],
        },
        "benign_read_alone": alone.as_dict(),
        "benign_read_during_attack": during.as_dict(),
        "hostile": by_kind,
        "gateway_memory_before": memory_before,
        "gateway_memory_after": memory_after,
    }


def render(result: dict[str, Any]) -> str:
    alone, during = result["benign_read_alone"], result["benign_read_during_attack"]
    lines = [
        f"hostile provider: Patient {result['provider_bytes']['patient']:,} bytes, "
        f"Bundle {result['provider_bytes']['bundle']:,} bytes, {HOSTILE_CLIENTS} clients",
        "",
        "| another tenant's read | p50 ms | p95 ms | p99 ms | requests |",
        "|---|---|---|---|---|",
        f"| alone | {alone['p50_ms']:.2f} | {alone['p95_ms']:.2f} | {alone['p99_ms']:.2f} | {alone['count']} |",
        f"| during the attack | {during['p50_ms']:.2f} | {during['p95_ms']:.2f} | {during['p99_ms']:.2f} "
        f"| {during['count']} |",
        "",
        "| hostile request | requests | statuses | mean s | largest answer bytes |",
        "|---|---|---|---|---|",
    ]
    for name, kind in result["hostile"].items():
        figures = f"{kind['requests']} | {kind['statuses']} | {kind['mean_seconds']} | {kind['max_answer_bytes']:,}"
        lines.append(f"| {name} | {figures} |")
    before, after = result["gateway_memory_before"], result["gateway_memory_after"]
    lines.append("")
    lines.append(f"gateway memory (bytes): {json.dumps(before)} before, {json.dumps(after)} after")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="benign reads per measurement")
    parser.add_argument("--entries", type=int, default=100_000, help="entries of the hostile Bundle")
    args = parser.parse_args(argv)
    print(render(run(args.requests, args.entries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
