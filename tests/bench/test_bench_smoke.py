"""The benchmark runs once at tiny size and writes every metric; no timing is asserted (timings vary by machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.report import missing_metrics  # noqa: E402 - after the path set-up


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "result.json"
    # Its own process: the benchmark sets the gateway's settings in its environment and starts its own Azurite.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_TEST_")}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:] + completed.stdout[-2000:]
    assert "Budget" in completed.stdout
    return json.loads(out.read_text())


def test_result_has_every_metric(tiny_result: dict[str, Any]) -> None:
    assert missing_metrics(tiny_result) == []


def test_every_target_answered_every_scenario_correctly(tiny_result: dict[str, Any]) -> None:
    checks = tiny_result["checks"]
    assert set(checks) == {f"{t}/{s}" for t in ("direct", "nginx", "gateway") for s in ("read", "search", "batch")}
    assert all(check["ok"] and check["status"] == 200 for check in checks.values())


def test_no_request_failed(tiny_result: dict[str, Any]) -> None:
    for scenario in ("read", "search", "batch"):
        for target in ("direct", "nginx", "gateway"):
            assert tiny_result["latency"][scenario][target]["errors"] == 0
            for run in tiny_result["throughput"][scenario].values():
                assert run[target]["errors"] == 0


def test_steady_state_makes_no_storage_or_identity_provider_call(tiny_result: dict[str, Any]) -> None:
    measured = {
        method: state
        for method, state in tiny_result["steady_state"].items()
        if isinstance(state, dict) and "skipped" not in state
    }
    assert "none" in measured
    for state in measured.values():
        assert state["proxied_requests"] > 0 and state["errors"] == 0
        assert state["storage_calls"] == 0
        assert state["identity_provider_calls"] == 0
        assert state["storage_calls_per_request"] == 0
        assert state["identity_calls_per_request"] == 0


def test_the_storage_counter_sees_registry_reads(tiny_result: dict[str, Any]) -> None:
    # The first token and proxied requests meet cold caches, so a counter stuck at zero would show here.
    assert tiny_result["steady_state"]["cold_first_requests_storage_calls"] > 0


def test_budget_lists_every_item_with_a_verdict(tiny_result: dict[str, Any]) -> None:
    items = {item["item"]: item for item in tiny_result["budget"]}
    assert len(items) >= 13
    assert all(isinstance(item["pass"], bool) for item in items.values())
    assert any(name.startswith("Cold import of fhir_proxy_fn") for name in items)


def test_the_bridged_case_translated_what_it_timed(tiny_result: dict[str, Any]) -> None:
    bridged = tiny_result["bridged"]
    assert bridged["checks"]["search"]["entries"] == 10
    assert bridged["checks"]["bundle"]["entries"] == tiny_result["large_bundle"]["entries"]
    for name in ("search", "bundle"):
        assert all(bridged[name][target]["errors"] == 0 for target in ("direct", "unbridged", "bridged"))


def test_the_many_hosts_case_reached_every_provider_through_the_gateway(tiny_result: dict[str, Any]) -> None:
    hosts = tiny_result["many_hosts"]
    assert hosts["hosts"] == hosts["checked"] == 8  # TINY's provider_hosts; the full run uses 120
    assert hosts["one_host"]["errors"] == hosts["many_hosts"]["errors"] == 0
    assert hosts["one_host"]["requests"] > 0 and hosts["many_hosts"]["requests"] > 0
    assert tiny_result["gateway_cpu"]["ratio_search_to_floor"] > 0
