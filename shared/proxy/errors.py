"""Proxy errors as data: an HTTP status, an OperationOutcome issue type and a message safe to show."""

from __future__ import annotations

from shared.fhir.operation_outcome import IssueType
from shared.oauth.errors import safe_description


class ProxyError(Exception):
    """Answered to the client as an OperationOutcome with `status_code` and `headers`."""

    def __init__(self, status_code: int, issue_type: IssueType, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.issue_type = issue_type
        self.message = message
        self.headers = headers or {}


def unauthorized(message: str, token_presented: bool) -> ProxyError:
    # RFC 6750 §3.1: no error code when the request carried no token at all.
    challenge = 'Bearer realm="fhir-gateway"'
    if token_presented:
        challenge += f', error="invalid_token", error_description="{safe_description(message)}"'
    return ProxyError(401, IssueType.LOGIN, message, {"WWW-Authenticate": challenge})


def forbidden(message: str) -> ProxyError:
    return ProxyError(403, IssueType.FORBIDDEN, message)


def bad_request(message: str) -> ProxyError:
    return ProxyError(400, IssueType.INVALID, message)


def method_not_allowed(message: str) -> ProxyError:
    return ProxyError(405, IssueType.NOT_SUPPORTED, message, {"Allow": "GET, HEAD, POST"})
