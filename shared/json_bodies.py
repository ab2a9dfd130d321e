"""Reads JSON request bodies: invalid, non-UTF-8 or too deeply nested JSON is one clear error, never a crash."""

from __future__ import annotations

import json
from typing import Any

# Far deeper than any FHIR batch Bundle or API body needs, far below the interpreter's recursion limit.
MAX_DEPTH = 64


class JsonBodyError(ValueError):
    """The body is not acceptable JSON; the message is safe to show (it never quotes the body)."""


def _too_deep(document: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json_body(body: bytes, what: str = "The request body") -> Any:
    """The parsed body; JsonBodyError when it is not UTF-8 JSON nested at most MAX_DEPTH levels."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise JsonBodyError(f"{what} is nested too deeply (at most {MAX_DEPTH} levels).") from None
    except (ValueError, UnicodeDecodeError):
        raise JsonBodyError(f"{what} is not valid JSON.") from None
    if _too_deep(document, MAX_DEPTH):
        raise JsonBodyError(f"{what} is nested too deeply (at most {MAX_DEPTH} levels).")
    return document
