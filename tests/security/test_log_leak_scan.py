"""The session's log leak scan finds a secret wherever it stands in a line, and reports it masked."""

from __future__ import annotations

import log_leak_scan


def test_a_secret_in_a_log_line_is_found_and_masked() -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    lines = ["token issued client_id=abc", f"debug: Authorization: Bearer {secret} sent", "ok"]
    assert log_leak_scan.find_leaks(lines, {secret}) == ["debug: Authorization: Bearer <SECRET> sent"]


def test_clean_lines_report_nothing() -> None:
    assert log_leak_scan.find_leaks(["a", "b c"], {"s3cr3t-value-that-must-not-leak"}) == []


def test_secrets_made_during_the_run_are_remembered(make_client) -> None:  # type: ignore[no-untyped-def]  # the fixture's factory type lives in gateway_testing
    issued = make_client()
    assert issued.secret in log_leak_scan.KNOWN_SECRETS
