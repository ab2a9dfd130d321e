"""The OAuth surfaces' tables: every error that ends a request there, as the RFC 6749 error it answers.

The token endpoint and introspection answer from TOKEN_ANSWERS, the secrets API from SECRETS_ANSWERS (the
same rows, the secret rules' refusals and its own answer for a disabled client). Each surface turns an error
into its answer at one place, its boundary, through `refusal`; rows are found by class hierarchy
(shared/error_tables.py), so a subclass gets its nearest ancestor's row. An OAuthError is already an answer.
The README's "Failures, per surface" table is checked against the domain-error rows by a test.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.error_tables import Table, answer
from shared.oauth import secrets_errors
from shared.oauth.errors import InvalidClient, InvalidRequest, OAuthError, TemporarilyUnavailable, UnauthorizedClient
from shared.registry import secret_rules
from shared.registry.errors import MisconfiguredEntity, RegistryError
from shared.settings import SettingError

log = logging.getLogger(__name__)

_RETRY_SHORTLY = "The service is temporarily unavailable; retry shortly."


def _registration_broken(error: MisconfiguredEntity) -> OAuthError:
    whose = "tenant" if error.table == "Tenants" else "client"
    return TemporarilyUnavailable(f"The {whose}'s registration is misconfigured; contact the gateway administrator.")


TOKEN_ANSWERS: Table[OAuthError] = {
    OAuthError: lambda error: error,
    RegistryError: lambda _: TemporarilyUnavailable(_RETRY_SHORTLY),
    MisconfiguredEntity: _registration_broken,
    SettingError: lambda _: TemporarilyUnavailable(_RETRY_SHORTLY),
}

SECRETS_ANSWERS: Table[OAuthError] = {
    **TOKEN_ANSWERS,
    # Authenticated, but disabled: the management API denies it (the token endpoint says unauthorized_client).
    UnauthorizedClient: lambda _: secrets_errors.AccessDenied("The client is disabled."),
    # The shared secret rules' refusals; a rule's reason is shown, "gone" and "not found" get fixed words.
    secret_rules.ClientGone: lambda _: InvalidClient(),  # deleted by an administrator since it authenticated
    secret_rules.SecretNotFound: lambda _: secrets_errors.SecretNotFound(),
    secret_rules.SecretConflict: lambda conflict: secrets_errors.SecretConflict(str(conflict)),
    secret_rules.SecretRuleError: lambda refused: InvalidRequest(str(refused)),
}

# The failures of the gateway itself (not of the request): logged as errors, audited by what failed.
GATEWAY_FAILURES = (RegistryError, SettingError)


@dataclass(frozen=True)
class Refusal:
    """How an OAuth surface ends a request: the error it answers, and the reason its audit record gives."""

    error: OAuthError
    reason: str  # the OAuth error code; `unavailable` or `misconfigured` when the gateway itself failed
    gateway_failed: bool = False


def refusal(table: Table[OAuthError], error: Exception, surface: str) -> Refusal:
    """The surface's answer for `error` from its table; a failure of the gateway itself is logged (with the
    table, entity and column of a broken entity, never a secret) and audited as `misconfigured` or `unavailable`."""
    answered = answer(table, error)
    if not isinstance(error, GATEWAY_FAILURES):
        return Refusal(answered, answered.error)
    log.error("%s: %s: %s", surface, type(error).__name__, error)
    reason = "misconfigured" if isinstance(error, MisconfiguredEntity | SettingError) else "unavailable"
    return Refusal(answered, reason, gateway_failed=True)
