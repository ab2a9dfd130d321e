"""Each refusal of the shared secret rules is answered by the secrets API with its one OAuth error."""

from __future__ import annotations

import pytest

from shared.failure_statuses import answer
from shared.oauth.secrets_api import RULE_ANSWERS
from shared.registry import secret_rules

EXPECTED = {
    secret_rules.ClientGone: (401, "invalid_client"),
    secret_rules.SecretNotFound: (404, "invalid_request"),
    secret_rules.SecretConflict: (409, "invalid_request"),
    secret_rules.SecretRuleError: (400, "invalid_request"),
}


def _every_rule_error() -> set[type[secret_rules.SecretRuleError]]:
    found, pending = set(), [secret_rules.SecretRuleError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_rule_error_class_has_its_expected_answer() -> None:
    assert _every_rule_error() == set(EXPECTED) == set(RULE_ANSWERS)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_each_rule_refusal_gets_its_status_and_code(cls: type[secret_rules.SecretRuleError]) -> None:
    refused = answer(RULE_ANSWERS, cls("the cap of 2 active secrets is reached"))
    assert (refused.status_code, refused.error) == EXPECTED[cls]
    # A rule's reason is shown; "gone" and "not found" are answered with the API's own fixed descriptions.
    shown = cls not in (secret_rules.ClientGone, secret_rules.SecretNotFound)
    assert (refused.description == "the cap of 2 active secrets is reached") == shown
