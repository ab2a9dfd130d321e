"""The secrets API's own OAuth errors: RFC 6749 has no codes for a management API, so these carry HTTP statuses."""

from __future__ import annotations

from shared.oauth.errors import InvalidRequest, OAuthError


class AccessDenied(OAuthError):
    """The client authenticated, but may not do this: it manages only its own secrets, and only while
    enabled. RFC 6749 has no code for a management API; `access_denied` (§4.1.2.1, "the authorization
    server denied the request") is the closest, answered with 403."""

    error = "access_denied"
    status_code = 403
    default_description = "A client may manage only its own secrets."


class SecretNotFound(InvalidRequest):
    """The client has no such secret (never had it, or it was deleted)."""

    status_code = 404
    default_description = "The client has no secret with this id."


class SecretConflict(InvalidRequest):
    """The change would break a rule over the client's secrets (the cap, the last active secret),
    or concurrent changes kept winning; answered with 409."""

    status_code = 409
    default_description = "The client's secrets were changed by concurrent requests; retry."


class MethodNotAllowed(InvalidRequest):
    """The method does not apply to this resource; the Allow header names those that do."""

    status_code = 405

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(f"This resource accepts {', '.join(allowed)} only.")
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Allow": ", ".join(self.allowed)}
