"""FHIR errors as data: each class carries its HTTP status, OperationOutcome issue type and headers.

Mirrors shared/oauth/errors.py: raise the class that says what happened with a message safe to show;
the proxy renders it as an OperationOutcome. Domain errors of the registry, the settings, upstream
authentication and the provider are mapped to these classes by one table (shared/proxy/failures.py).
"""

from __future__ import annotations

import re

from shared.error_descriptions import safe_description
from shared.fhir.operation_outcome import IssueType

RETRY_AFTER_SECONDS = "5"
# What of a client's request an OperationOutcome may repeat: this many characters, in the token endpoint's set.
MAX_REFLECTED_LENGTH = 40


# Narrower than the token endpoint's (RFC 6749 §5.2) set: no quotes, angle brackets, ampersands or backslashes.
_NOT_REFLECTED = re.compile(r"[^A-Za-z0-9 _.,:;|*=/()+'`-]")


def reflected(value: str, limit: int = MAX_REFLECTED_LENGTH) -> str:
    """A value from the request as an error message may repeat it: letters, digits and a few punctuation
    marks (anything else becomes ?), at most `limit` characters, so an answer never carries markup or a long echo."""
    cleaned = _NOT_REFLECTED.sub("?", value[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


class ProxyError(Exception):
    """Answered to the client as an OperationOutcome with `status_code`, `issue_type` and `headers`."""

    status_code: int = 500
    issue_type: IssueType = IssueType.EXCEPTION

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        return {}


class NotAuthenticated(ProxyError):
    """401: no access token, or one that does not verify; the challenge follows RFC 6750 §3."""

    status_code = 401
    issue_type = IssueType.LOGIN

    def __init__(self, message: str, token_presented: bool) -> None:
        super().__init__(message)
        self.token_presented = token_presented

    @property
    def headers(self) -> dict[str, str]:
        # RFC 6750 §3.1: no error code when the request carried no token at all.
        challenge = 'Bearer realm="fhir-gateway"'
        if self.token_presented:
            challenge += f', error="invalid_token", error_description="{safe_description(self.message)}"'
        return {"WWW-Authenticate": challenge}


class Forbidden(ProxyError):
    """403: the token is valid, but its tenant, or the resource type, is not available to it."""

    status_code = 403
    issue_type = IssueType.FORBIDDEN


class InvalidRequest(ProxyError):
    """400: the request is malformed or outside the read-only policy's syntax."""

    status_code = 400
    issue_type = IssueType.INVALID


class NoEquivalentInVersion(ProxyError):
    """400: a search parameter has no equivalent in the provider's FHIR version."""

    status_code = 400
    issue_type = IssueType.NOT_SUPPORTED


class NotFound(ProxyError):
    """404: not a FHIR path of this gateway."""

    status_code = 404
    issue_type = IssueType.NOT_FOUND


class PageLinkExpired(ProxyError):
    """410: a page link (sealed page token) whose lifetime is over; the search must be run again."""

    status_code = 410
    issue_type = IssueType.NOT_FOUND


class MethodNotAllowed(ProxyError):
    """405: the gateway is read-only; Allow names what it accepts."""

    status_code = 405
    issue_type = IssueType.NOT_SUPPORTED

    @property
    def headers(self) -> dict[str, str]:
        return {"Allow": "GET, HEAD, POST"}


class NotAcceptable(ProxyError):
    """406: the client asked for a format other than FHIR JSON."""

    status_code = 406
    issue_type = IssueType.NOT_SUPPORTED


class PayloadTooLarge(ProxyError):
    """413: a search body or batch Bundle above the gateway's limits."""

    status_code = 413
    issue_type = IssueType.TOO_COSTLY


class UnsupportedMediaType(ProxyError):
    """415: a body sent in a media type the gateway does not read."""

    status_code = 415
    issue_type = IssueType.NOT_SUPPORTED


class RefusedByProvider(ProxyError):
    """The provider's own 4xx refusal, whose answer is not FHIR JSON: relayed with its status."""

    issue_type = IssueType.INVALID

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryLater(ProxyError):
    """An answer with Retry-After: the same request may succeed later."""

    def __init__(self, message: str, retry_after: str = RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after}


class TooManyRequests(RetryLater):
    """429 with Retry-After: the provider throttles."""

    status_code = 429
    issue_type = IssueType.THROTTLED


class GatewayMisconfigured(ProxyError):
    """500: an app setting of the gateway is missing or malformed."""


class NotImplementedInVersion(ProxyError):
    """501: a resource type or element the version bridge cannot translate."""

    status_code = 501
    issue_type = IssueType.NOT_SUPPORTED


class BadGateway(ProxyError):
    """502: the provider failed, refused the gateway's credentials, or answered something unusable."""

    status_code = 502


class NoProviderAnswer(BadGateway):
    """502 (transient): no usable answer arrived from the provider."""

    issue_type = IssueType.TRANSIENT


class BatchAnswerTooLarge(BadGateway):
    """502 for one batch entry: the batch's combined answer would exceed BATCH_MAX_ANSWER_BYTES."""

    issue_type = IssueType.TOO_COSTLY


class ServiceUnavailable(RetryLater):
    """503 with Retry-After: the registry, the identity provider or the provider is busy or unreachable."""

    status_code = 503
    issue_type = IssueType.TRANSIENT


class GatewayTimeout(ProxyError):
    """504: the provider missed the connect timeout or the upstream deadline."""

    status_code = 504
    issue_type = IssueType.TIMEOUT
