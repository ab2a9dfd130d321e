"""Dotted element paths inside a resource: reach, read, set and remove values, stepping into every list item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = dict[str, Any]


def holders(root: Node, segments: list[str]) -> Iterator[tuple[Node, list[str]]]:
    """(holder, relative path) for each place the path can be: the resource itself, or the innermost list item the
    path passes through (a repeating backbone element such as `reaction` or `dosageInstruction`). Extensions for the
    element live on that holder, so each item keeps its own."""

    def walk(holder: Node, node: Node, start: int, index: int) -> Iterator[tuple[Node, list[str]]]:
        if index == len(segments) - 1:
            yield holder, segments[start:]
            return
        value = node.get(segments[index])
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from walk(item, item, index + 1, index + 1)
        elif isinstance(value, dict):
            yield from walk(holder, value, start, index + 1)
        else:
            yield holder, segments[start:]

    yield from walk(root, root, 0, 0)


def get(node: Node, relative: list[str]) -> Any:
    for name in relative:
        if not isinstance(node, dict):
            return None
        node = node.get(name)  # type: ignore[assignment]  # a non-dict node ends the walk on the next step
    return node


def pop(node: Node, relative: list[str]) -> Any:
    """Removes the value (and parents left empty by it)."""
    if not relative:
        return None
    if len(relative) == 1:
        return node.pop(relative[0], None) if isinstance(node, dict) else None
    child = node.get(relative[0]) if isinstance(node, dict) else None
    if not isinstance(child, dict):
        return None
    value = pop(child, relative[1:])
    if not child:
        del node[relative[0]]
    return value


def put(node: Node, relative: list[str], value: Any) -> None:
    """Sets the value, creating parent objects on the way."""
    for name in relative[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[relative[-1]] = value


def present(value: Any) -> bool:
    return value not in (None, "", [], {})
