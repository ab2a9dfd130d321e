"""Measurements in rounds: every point gets a slice of each round, so a burst of background load hits them alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from bench.gateway import process_cpu_seconds
from bench.load import Connection, LatencyStats, RequestSpec, ResponseError, Target, latency_samples, measure_throughput

K = TypeVar("K", bound=Hashable)
Say = Callable[[str], None]


def _rotated(keys: list[K], round_index: int) -> list[K]:
    shift = round_index % len(keys)
    return keys[shift:] + keys[:shift]


def latency_in_rounds(
    points: dict[K, tuple[Target, RequestSpec]], total: int, rounds: int, say: Say | None = None, label: str = "latency"
) -> dict[K, dict[str, Any]]:
    """Concurrency-1 latency per point, `total` requests each spread over `rounds` rounds; samples pooled."""
    samples: dict[K, list[int]] = {key: [] for key in points}
    errors = dict.fromkeys(points, 0)
    per_round = max(1, total // rounds)
    for index in range(rounds):
        if say is not None:
            say(f"{label}: round {index + 1}/{rounds} ...")
        for key in _rotated(list(points), index):
            target, spec = points[key]
            got, failed = latency_samples(target, spec, per_round, warmup=20 if index == 0 else 5)
            samples[key].extend(got)
            errors[key] += failed
    return {key: LatencyStats.of(samples[key], errors[key]).as_dict() for key in points}


def latency_interleaved(
    points: dict[K, tuple[Target, RequestSpec]], total: int, say: Say | None = None, label: str = "latency"
) -> dict[K, dict[str, Any]]:
    """Concurrency-1 latency per point with the points' requests interleaved one by one (A, B, C, B, C, A, ...
    on one kept-alive connection each): for a difference between points (what the bridge adds), background load
    then hits every point alike even when it comes in bursts shorter than a round."""
    if say is not None:
        say(f"{label}: {total} requests per point, interleaved ...")
    keys = list(points)
    raws = {key: spec.wire(target) for key, (target, spec) in points.items()}
    connections = {key: Connection(target.host, target.port) for key, (target, _) in points.items()}
    samples: dict[K, list[int]] = {key: [] for key in points}
    errors = dict.fromkeys(points, 0)
    warmup = 20
    try:
        for index in range(warmup + total):
            for key in _rotated(keys, index):
                started = time.perf_counter_ns()
                try:
                    status, _, _ = connections[key].exchange(raws[key])
                except (OSError, ResponseError):
                    errors[key] += 1
                    continue
                elapsed = time.perf_counter_ns() - started
                if status != points[key][1].expected_status:
                    errors[key] += 1
                elif index >= warmup:
                    samples[key].append(elapsed)
    finally:
        for connection in connections.values():
            connection.close()
    return {key: LatencyStats.of(samples[key], errors[key]).as_dict() for key in points}


def throughput_in_rounds(
    points: dict[K, tuple[Target | Sequence[Target], RequestSpec, int]],
    seconds: float,
    rounds: int,
    warmup: float,
    pids: dict[K, list[int]] | None = None,
    say: Say | None = None,
    label: str = "throughput",
) -> dict[K, dict[str, Any]]:
    """Requests per second per point (target, request, concurrency): the median round is the headline.

    With `pids`, also the CPU those processes spent per request (warm-up included, charged pro rata).
    """
    pids = pids or {}
    window = seconds / rounds
    rates: dict[K, list[float]] = {key: [] for key in points}
    requests = dict.fromkeys(points, 0)
    errors = dict.fromkeys(points, 0)
    cpu = dict.fromkeys(points, 0.0)
    for index in range(rounds):
        if say is not None:
            say(f"{label}: round {index + 1}/{rounds} ...")
        for key in _rotated(list(points), index):
            target, spec, concurrency = points[key]
            before = sum(process_cpu_seconds(pid) for pid in pids.get(key, []))
            result = measure_throughput(target, spec, concurrency, window, warmup)
            spent = sum(process_cpu_seconds(pid) for pid in pids.get(key, [])) - before
            cpu[key] += spent * window / (window + warmup)
            rates[key].append(round(result.requests_per_second, 1))
            requests[key] += result.requests
            errors[key] += result.errors
    out: dict[K, dict[str, Any]] = {}
    for key in points:
        out[key] = {
            "requests_per_second": round(statistics.median(rates[key]), 1),
            "mean_requests_per_second": round(requests[key] / seconds, 1),
            "requests": requests[key],
            "errors": errors[key],
            "per_round": rates[key],
        }
        if key in pids and requests[key]:
            out[key]["cpu_ms_per_request"] = round(cpu[key] / requests[key] * 1000, 3)
    return out
