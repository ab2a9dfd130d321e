"""Samples the gateway process with py-spy (GIL-holding stacks) and summarises where its time goes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^():]+)(?::\d+)?\)$")

# Hot-path stages by the function that starts them (inclusive share of GIL-holding samples). py-spy shortens
# file names to their last folders ("functions/_http.py" is azure/functions/_http.py).
STAGES: dict[str, tuple[str, str]] = {
    "local host app (FunctionsApp.__call__)": ("FunctionsApp.__call__", "local_host/wsgi_app.py"),
    "  environ -> func.HttpRequest": ("build_request", "local_host/http_request.py"),
    "  func.HttpResponse -> wire": ("to_wire", "local_host/http_response.py"),
    "  proxy_request (the gateway's code)": ("proxy_request", "shared/proxy/forward.py"),
    "    authenticate (JWT verify + cached client)": ("authenticate", "shared/proxy/forward.py"),
    "      PyJWT.decode (RS256 signature + claims)": ("PyJWT.decode", "jwt/api_jwt.py"),
    "    resolve_tenant (cached)": ("resolve_tenant", "shared/proxy/forward.py"),
    "    plan_request (path, query, policy)": ("plan_request", "shared/proxy/read_policy.py"),
    "    _upstream_call (headers, auth, send)": ("_upstream_call", "shared/proxy/forward.py"),
    "      upstream_auth_headers": ("upstream_auth_headers", "shared/upstream_auth/__init__.py"),
    "      http11_client.exchange (send, read, frame)": ("exchange", "shared/outbound/http11_client.py"),
    "        read_answer (status, headers, body)": ("read_answer", "shared/outbound/http11_client.py"),
    "    _client_response (check, filter, rewrite, bridge)": ("_client_response", "shared/proxy/forward.py"),
    "      provider_json.check (strict parse)": ("check", "shared/proxy/provider_json.py"),
    "      translate_answer (links; bridge)": ("translate_answer", "shared/proxy/bridging.py"),
    "      shorten_page_links": ("shorten_page_links", "shared/proxy/page_links.py"),
    "    func.HttpResponse(...)": ("HttpResponse.__init__", "functions/_http.py"),
    "logging (every log call, anywhere)": ("", "logging/__init__.py"),
    "waitress event-loop thread (accept, read, write)": ("loop", "waitress/wasyncore.py"),
}
OUTSIDE_APP = "waitress outside the app (parsing, tasks, I/O, event loop)"


def find_py_spy() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


class Sampler:
    """`py-spy record` attached to a running process for a fixed time, writing collapsed stacks."""

    def __init__(self, binary: str, pid: int, seconds: float, output: Path, rate: int = 250) -> None:
        self.output = output
        self.process = subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--gil",
                "--nonblocking",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait(self) -> dict[str, Any]:
        _, stderr = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.output.exists():
            return {"error": stderr.decode(errors="replace")[-500:]}
        return summarise(self.output.read_text())


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part.strip())
        if match:
            frames.append((match.group("function"), match.group("file")))
    return frames


def _short(function: str, file: str) -> str:
    marker = "site-packages/"
    file = file.split(marker, 1)[1] if marker in file else file
    return f"{function} ({file})"


def _stage_matches(frame: tuple[str, str], rule: tuple[str, str]) -> bool:
    function, file = frame
    wanted_function, wanted_file = rule
    return wanted_file in file and (not wanted_function or function == wanted_function)


def summarise(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares per function, and inclusive shares per hot-path stage."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        self_counts[_short(*frames[-1])] += count
        for name in {_short(*frame) for frame in frames}:
            inclusive[name] += count
        for stage, rule in STAGES.items():
            if any(_stage_matches(frame, rule) for frame in frames):
                stages[stage] += count
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str], limit: int | None) -> list[dict[str, Any]]:
        return [{"name": name, "percent": round(100 * n / total, 1)} for name, n in counter.most_common(limit)]

    percent = {stage: round(100 * stages[stage] / total, 1) for stage in STAGES}
    percent[OUTSIDE_APP] = round(100 - percent["local host app (FunctionsApp.__call__)"], 1)
    return {
        "samples": total,
        "stages_percent": percent,
        "top_self": share(self_counts, top),
        "top_inclusive": share(inclusive, top + 10),
    }
