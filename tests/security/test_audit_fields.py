"""Audit records keep what callers supply from forging log lines: short printable text as it is, anything else cut
and with its control characters replaced."""

from __future__ import annotations

import json

import pytest

from shared.audit import audit


def test_short_printable_fields_are_recorded_as_given() -> None:
    record = audit("test", client_id="client-1", parameters=["family", "_count"], status=200, reason=None)
    assert record["client_id"] == "client-1"
    assert record["parameters"] == ["family", "_count"]
    assert record["status"] == 200
    assert "reason" not in record


@pytest.mark.parametrize("forged", ["a\nb", "a\rb", "tab\there", "esc\x1b[31m", "nul\x00", "line\u2028sep"])
def test_control_characters_are_replaced(forged: str) -> None:
    record = audit("test", client_id=forged, parameters=[forged])
    assert record["client_id"].isprintable() and "?" in record["client_id"]
    assert record["parameters"][0] == record["client_id"]


def test_long_fields_are_cut_even_when_printable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="gateway.audit"):
        record = audit("test", client_id="x" * 500)
    assert record["client_id"] == "x" * 128 + "…"
    assert json.loads(caplog.records[-1].getMessage())["client_id"] == record["client_id"]
