"""What of a request an OperationOutcome may repeat: short, and only characters that cannot become markup."""

from __future__ import annotations

from shared.proxy.errors import MAX_REFLECTED_LENGTH, reflected


def test_markup_quotes_and_controls_become_question_marks() -> None:
    assert reflected('<img src=x onerror="a">') == "?img src=x onerror=?a??"
    assert reflected("a\r\nb\u202ec\\d&e") == "a??b?c?d?e"


def test_long_values_are_cut() -> None:
    cut = reflected("A" * 5000)
    assert len(cut) == MAX_REFLECTED_LENGTH and cut.endswith("...")
    assert reflected("Observation") == "Observation"
    assert reflected("x" * 300, 200) == "x" * 197 + "..."


def test_the_words_of_a_message_stay_readable() -> None:
    text = "search parameter 'code:text' of Observation has no equivalent; use `status` (a, b|c)"
    assert reflected(text, 200) == text
