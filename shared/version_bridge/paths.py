"""Dotted element paths inside a resource: reach, read, set and remove values, stepping into every list item."""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]


def holders(root: Node, segments: list[str]) -> list[tuple[Node, list[str]]]:
    """(holder, relative path) for each place the path can be: the resource itself, or the innermost list item the
    path passes through (a repeating backbone element such as `reaction` or `dosageInstruction`). Extensions for the
    element live on that holder, so each item keeps its own. A list made before any is used, so callers may change
    what they are handed."""
    found: list[tuple[Node, list[str]]] = []
    last = len(segments) - 1
    if last == 0:  # the common case: an element of the resource itself
        found.append((root, segments))
        return found
    if last == 1:  # the next most common: an element of a backbone element or data type (`identifier.use`)
        value = root.get(segments[0])
        if type(value) is list:
            tail = segments[1:]
            for item in value:
                if type(item) is dict:
                    found.append((item, tail))
        else:
            found.append((root, segments))
        return found

    def walk(holder: Node, node: Node, start: int, index: int) -> None:
        if index == last:
            found.append((holder, segments[start:]))
            return
        value = node.get(segments[index])
        if type(value) is list:
            for item in value:
                if type(item) is dict:
                    walk(item, item, index + 1, index + 1)
        elif type(value) is dict:
            walk(holder, value, start, index + 1)
        else:
            found.append((holder, segments[start:]))

    walk(root, root, 0, 0)
    return found


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
