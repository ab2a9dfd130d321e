"""Upstream authentication per tenant: the Authorization header the proxy sends to a provider's FHIR server.

`methods.upstream_auth_headers` is the entry point; this package itself imports only its errors, so code that
names them (the failure tables) does not load MSAL, the vault SDK and the identity clients at start-up.
"""

from __future__ import annotations

from shared.upstream_auth.errors import UpstreamAuthError, UpstreamAuthUnavailable

__all__ = ["UpstreamAuthError", "UpstreamAuthUnavailable"]
