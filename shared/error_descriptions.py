"""The error_description text shown to callers: RFC 6749 §5.2 (OAuth error JSON) and RFC 6750 §3 (the
WWW-Authenticate challenge) allow printable ASCII without " and \\; anything else becomes ?, and it is cut short."""

from __future__ import annotations

import re

MAX_DESCRIPTION_LENGTH = 200
# %x20-21 / %x23-5B / %x5D-7E: printable ASCII without " and \.
_OUTSIDE_CHARSET = re.compile(r"[^\x20\x21\x23-\x5B\x5D-\x7E]")


def safe_description(text: str) -> str:
    """The text inside RFC 6749 §5.2's character set (anything else becomes ?) and at most 200 characters."""
    cleaned = _OUTSIDE_CHARSET.sub("?", text)
    if len(cleaned) > MAX_DESCRIPTION_LENGTH:
        cleaned = cleaned[: MAX_DESCRIPTION_LENGTH - 3] + "..."
    return cleaned
