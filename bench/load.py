"""A load generator: one keep-alive raw-socket HTTP/1.1 connection per thread, latencies in nanoseconds."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

RECV_BYTES = 256 * 1024


@dataclass(frozen=True)
class Target:
    """Where requests go: a host/port, the FHIR base path there, and headers every request carries."""

    name: str
    host: str
    port: int
    base_path: str = "/fhir"
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.base_path}"


@dataclass(frozen=True)
class RequestSpec:
    """One kind of request, relative to a target's base path ("" is the base itself)."""

    name: str
    method: str
    path: str
    body: bytes = b""
    content_type: str | None = None
    expected_status: int = 200
    absolute: bool = False  # path is from the server root, not from the FHIR base

    def wire(self, target: Target) -> bytes:
        """The exact bytes of this request for `target` (built once, sent many times)."""
        if self.absolute:
            path = self.path
        else:
            path = target.base_path + ("/" + self.path if self.path and not self.path.startswith("?") else self.path)
        lines = [
            f"{self.method} {path} HTTP/1.1",
            f"Host: {target.host}:{target.port}",
            "Accept: application/fhir+json",
            "User-Agent: bench/1",
        ]
        lines += [f"{name}: {value}" for name, value in target.headers]
        if self.body or self.method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(self.body)}")
        if self.content_type:
            lines.append(f"Content-Type: {self.content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class ResponseError(Exception):
    """The connection broke or the answer was not HTTP/1.1 as expected."""


class Connection:
    """A keep-alive HTTP/1.1 client connection that sends prebuilt requests and reads whole responses."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self._address = (host, port)
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._pending = bytearray()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._pending = bytearray()
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-case headers, body) of one request; reconnects once if a kept-alive socket died."""
        for attempt in (1, 2):
            sock = self._socket()
            try:
                sock.sendall(raw)
                return self._read_response(sock)
            except (OSError, ResponseError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _recv(self, sock: socket.socket) -> bytes:
        chunk = sock.recv(RECV_BYTES)
        if not chunk:
            raise ResponseError("connection closed by the server")
        return chunk

    def _read_response(self, sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
        buffer = self._pending
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._recv(sock)
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        try:
            status = int(head[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise ResponseError(f"not an HTTP status line: {head[0][:60]!r}") from None
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(buffer) < length:
                buffer += self._recv(sock)
            body = bytes(buffer[:length])
            del buffer[:length]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(sock, buffer)
        elif status in (204, 304) or status < 200:
            body = b""
        else:
            while True:
                try:
                    buffer += self._recv(sock)
                except ResponseError:
                    break
            body = bytes(buffer)
            buffer.clear()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def _read_chunked(self, sock: socket.socket, buffer: bytearray) -> bytes:
        body = bytearray()
        while True:
            while (line_end := buffer.find(b"\r\n")) < 0:
                buffer += self._recv(sock)
            size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
            del buffer[: line_end + 2]
            while len(buffer) < size + 2:
                buffer += self._recv(sock)
            body += buffer[:size]
            del buffer[: size + 2]
            if size == 0:
                return bytes(body)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass
class LatencyStats:
    """Latencies of one run in milliseconds."""

    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float

    @classmethod
    def of(cls, samples_ns: list[int], errors: int) -> LatencyStats:
        values = sorted(s / 1e6 for s in samples_ns)
        mean = sum(values) / len(values) if values else 0.0
        return cls(
            len(values),
            errors,
            percentile(values, 0.50),
            percentile(values, 0.95),
            percentile(values, 0.99),
            mean,
            values[0] if values else 0.0,
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def latency_samples(target: Target, spec: RequestSpec, requests: int, warmup: int = 20) -> tuple[list[int], int]:
    """(nanoseconds per request, errors) of sequential requests on one kept-alive connection (concurrency 1)."""
    raw = spec.wire(target)
    connection = Connection(target.host, target.port)
    samples: list[int] = []
    errors = 0
    try:
        for index in range(warmup + requests):
            started = time.perf_counter_ns()
            try:
                status, _, _ = connection.exchange(raw)
            except (OSError, ResponseError):
                errors += 1
                continue
            elapsed = time.perf_counter_ns() - started
            if status != spec.expected_status:
                errors += 1
            elif index >= warmup:
                samples.append(elapsed)
    finally:
        connection.close()
    return samples, errors


def measure_latency(target: Target, spec: RequestSpec, requests: int, warmup: int = 20) -> LatencyStats:
    return LatencyStats.of(*latency_samples(target, spec, requests, warmup))


@dataclass
class ThroughputResult:
    concurrency: int
    seconds: float
    requests: int
    errors: int
    requests_per_second: float
    latency: LatencyStats
    per_thread: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_second": round(self.requests_per_second, 1),
            "latency": self.latency.as_dict(),
        }


def measure_throughput(
    target: Target | Sequence[Target], spec: RequestSpec, concurrency: int, seconds: float, warmup_seconds: float = 0.3
) -> ThroughputResult:
    """`concurrency` threads, each looping on its own kept-alive connection; counts what completes in the window.

    With several targets (one host and port, e.g. one gateway with a token per tenant), each thread sends to
    them in turn, the threads starting at different ones."""
    targets = [target] if isinstance(target, Target) else list(target)
    target = targets[0]
    raws = [spec.wire(each) for each in targets]
    barrier = threading.Barrier(concurrency + 1)
    window: list[float] = []
    counts = [0] * concurrency
    errors = [0] * concurrency
    samples: list[list[int]] = [[] for _ in range(concurrency)]

    def worker(index: int) -> None:
        connection = Connection(target.host, target.port)
        local_samples = samples[index]
        turn = index * len(raws) // concurrency
        try:
            barrier.wait()
            start, end = window
            while True:
                raw = raws[turn % len(raws)]
                turn += 1
                started = time.perf_counter_ns()
                try:
                    status, _, _ = connection.exchange(raw)
                    ok = status == spec.expected_status
                except (OSError, ResponseError):
                    ok = False
                finished = time.perf_counter_ns()
                now = finished / 1e9
                if now >= end:
                    return
                if now >= start:
                    if ok:
                        counts[index] += 1
                        local_samples.append(finished - started)
                    else:
                        errors[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    begin = time.perf_counter_ns() / 1e9
    window.extend([begin + warmup_seconds, begin + warmup_seconds + seconds])
    barrier.wait()
    for thread in threads:
        thread.join(timeout=warmup_seconds + seconds + 120)
    total = sum(counts)
    merged = [s for per in samples for s in per]
    return ThroughputResult(
        concurrency, seconds, total, sum(errors), total / seconds, LatencyStats.of(merged, sum(errors)), counts
    )


def fetch(target: Target, spec: RequestSpec) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection (sanity checks, token requests)."""
    connection = Connection(target.host, target.port)
    try:
        return connection.exchange(spec.wire(target))
    finally:
        connection.close()
