"""The secrets API answers from one table (shared.oauth.answers.SECRETS_ANSWERS): the token endpoint's rows, each
refusal of the shared secret rules with its one OAuth error, and access_denied for a disabled client."""

from __future__ import annotations

import pytest

from shared.error_tables import answer
from shared.oauth.answers import SECRETS_ANSWERS, TOKEN_ANSWERS
from shared.oauth.errors import InvalidScope, UnauthorizedClient
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


def test_the_secrets_table_is_the_token_table_with_the_rules_and_the_disabled_client() -> None:
    assert _every_rule_error() == set(EXPECTED)
    assert set(SECRETS_ANSWERS) == set(TOKEN_ANSWERS) | set(EXPECTED) | {UnauthorizedClient}
    assert all(SECRETS_ANSWERS[cls] is TOKEN_ANSWERS[cls] for cls in TOKEN_ANSWERS)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_each_rule_refusal_gets_its_status_and_code(cls: type[secret_rules.SecretRuleError]) -> None:
    refused = answer(SECRETS_ANSWERS, cls("the cap of 2 active secrets is reached"))
    assert (refused.status_code, refused.error) == EXPECTED[cls]
    # A rule's reason is shown; "gone" and "not found" are answered with the API's own fixed descriptions.
    shown = cls not in (secret_rules.ClientGone, secret_rules.SecretNotFound)
    assert (refused.description == "the cap of 2 active secrets is reached") == shown


def test_a_disabled_client_is_denied_here_and_other_oauth_errors_answer_themselves() -> None:
    disabled = answer(SECRETS_ANSWERS, UnauthorizedClient("The client is disabled."))
    assert (disabled.status_code, disabled.error) == (403, "access_denied")
    assert answer(TOKEN_ANSWERS, UnauthorizedClient()).error == "unauthorized_client"
    own = InvalidScope("no such tenant")
    assert answer(SECRETS_ANSWERS, own) is own and answer(TOKEN_ANSWERS, own) is own
