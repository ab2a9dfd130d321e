"""Failure tables: each surface maps the errors it answers to its answers, found by the error's class hierarchy.

A table is a mapping from an exception class to a function building the surface's answer from the error; as
starlette finds an exception handler, the row of the nearest class in the error's MRO wins, so a subclass gets
its nearest ancestor's answer. Each surface keeps its own table beside it (shared/oauth/answers.py for the OAuth
surfaces) and answers from it at its one boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
# Values take the error itself (Any: each row knows its own class) and build the surface's answer.
Table = Mapping[type[Exception], Callable[[Any], T]]


def handled(table: Table[Any]) -> tuple[type[Exception], ...]:
    """The errors a surface answers, for its `except` clause."""
    return tuple(table)


def answer(table: Table[T], error: Exception) -> T:
    """The surface's answer for `error`: the row of its nearest class in the hierarchy (KeyError if none)."""
    for cls in type(error).__mro__:
        build = table.get(cls)
        if build is not None:
            return build(error)
    raise KeyError(f"no answer for {type(error).__name__}")
