"""Parses a token request body: form-encoded UTF-8, each parameter at most once (RFC 6749 §3.2)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from shared.oauth.errors import InvalidRequest, PayloadTooLarge

MAX_BODY_BYTES = 16 * 1024
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def parse_token_form(body: bytes, content_type: str | None) -> dict[str, str]:
    """The form's parameters; raises InvalidRequest for anything RFC 6749 does not allow."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise InvalidRequest(f"The token request body must be {FORM_MEDIA_TYPE}.")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The token request body must not exceed {MAX_BODY_BYTES} bytes.")
    if not body.strip():
        raise InvalidRequest("The token request body is empty.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The token request body is not valid UTF-8.") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The token request body is not a valid form.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(f"{_parameter(name)} is repeated.")
        if any(ord(ch) < 0x20 for ch in value):
            raise InvalidRequest(f"{_parameter(name)} contains control characters.")
        form[name] = value
    return form


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


def _parameter(name: str) -> str:
    """How an error names a parameter: by its name when that is plain, never reflecting anything else."""
    return f"The parameter {name}" if _PLAIN_NAME.fullmatch(name) else "A parameter with an unusual name"
