"""Optional bearer-token and HTTP Basic checks answering 401 with WWW-Authenticate."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any

from .outcome import FhirError

BearerCheck = str | Callable[[str], bool] | None
REALM = 'realm="sandbox"'


class Auth:
    """Accepts a request when any configured scheme accepts it; with none configured, all pass."""

    def __init__(self, bearer: BearerCheck = None, basic: tuple[str, str] | None = None) -> None:
        self.bearer = bearer
        self.basic = basic

    @property
    def enabled(self) -> bool:
        return self.bearer is not None or self.basic is not None

    def security_services(self) -> list[str]:
        return (["OAuth"] if self.bearer is not None else []) + (["Basic"] if self.basic is not None else [])

    def check(self, environ: dict[str, Any]) -> None:
        if not self.enabled:
            return
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and self.bearer is not None and credentials:
            if self._bearer_ok(credentials):
                return
            self._deny("The bearer token is not valid", error="invalid_token")
        if scheme.lower() == "basic" and self.basic is not None and self._basic_ok(credentials):
            return
        self._deny("Authorization required" if not header else "Authorization rejected")

    def _bearer_ok(self, token: str) -> bool:
        if callable(self.bearer):
            return bool(self.bearer(token))
        return hmac.compare_digest(token.encode(), str(self.bearer).encode())

    def _basic_ok(self, credentials: str) -> bool:
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        want_user, want_password = self.basic or ("", "")
        return hmac.compare_digest(user.encode(), want_user.encode()) and hmac.compare_digest(
            password.encode(), want_password.encode()
        )

    def _deny(self, message: str, error: str | None = None) -> None:
        challenges = []
        if self.bearer is not None:
            challenges.append(("WWW-Authenticate", f"Bearer {REALM}" + (f', error="{error}"' if error else "")))
        if self.basic is not None:
            challenges.append(("WWW-Authenticate", f"Basic {REALM}"))
        raise FhirError(401, message, "login", headers=challenges)
