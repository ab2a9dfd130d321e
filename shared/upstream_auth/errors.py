"""The errors upstream authentication raises, with a message that is safe to show a client."""

from __future__ import annotations

from typing import ClassVar


class UpstreamAuthError(Exception):
    """Upstream credentials could not be produced for a tenant: a setting is missing or wrong, or the
    identity provider refused the credentials (the tenant's configuration must change).

    `str(error)` names the tenant and the problem (a setting's NAME, the identity provider's host or
    error code) and never a secret, a token or the identity provider's raw answer, so the proxy may put it
    in an OperationOutcome.
    """

    transient: ClassVar[bool] = False

    def __init__(self, tenant_id: str, problem: str) -> None:
        self.tenant_id = tenant_id
        self.problem = problem
        super().__init__(f"tenant {tenant_id}: upstream authentication failed: {problem}")

    def for_tenant(self, tenant_id: str) -> UpstreamAuthError:
        """A fresh copy (safe to raise in another thread), naming `tenant_id`."""
        return type(self)(tenant_id, self.problem)


class UpstreamAuthUnavailable(UpstreamAuthError):
    """The identity provider is unreachable, slow or failing: retrying later may succeed."""

    transient = True
