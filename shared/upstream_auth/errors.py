"""The one error upstream authentication raises, with a message that is safe to show a client."""

from __future__ import annotations

CONFIGURATION = 502  # a setting is missing or wrong, or the identity provider refused the credentials
TRANSIENT = 503  # the identity provider is unreachable, timed out or answered 5xx


class UpstreamAuthError(Exception):
    """Upstream credentials could not be produced for a tenant.

    `str(error)` names the tenant and the problem (a setting's NAME, the identity provider's host or
    error code) and never a secret, a token or the identity provider's raw answer, so the proxy may put it
    in an OperationOutcome. `status_code` is what the gateway answers: 502 or 503.
    """

    def __init__(self, tenant_id: str, problem: str, status_code: int = CONFIGURATION) -> None:
        self.tenant_id = tenant_id
        self.problem = problem
        self.status_code = status_code
        super().__init__(f"tenant {tenant_id}: upstream authentication failed: {problem}")

    @property
    def transient(self) -> bool:
        return self.status_code == TRANSIENT

    def for_tenant(self, tenant_id: str) -> UpstreamAuthError:
        """A fresh copy (safe to raise in another thread), naming `tenant_id`."""
        return UpstreamAuthError(tenant_id, self.problem, self.status_code)
