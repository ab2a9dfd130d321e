"""The bridge's safety net, run after a step's rules: every element the target version does not define, at any depth,
becomes a cross-version extension on its parent (and one kept that way comes back); a list where one value belongs
keeps its first item; a code outside the target's required binding is kept in an extension; DSTU2's JSON comments go.

The catalogue (catalogue.py, generated from HL7's definitions) says what the target defines. Extension URLs name the
element by its path from the resource (`MedicationRequest.dosageInstruction.sequence`) in the version it came from.
"""

from __future__ import annotations

import functools
from typing import Any

from shared.version_bridge import extensions as ext
from shared.version_bridge.catalogue import Catalogue, Element, catalogue
from shared.version_bridge.paths import Node
from shared.version_bridge.rules import Step

_SKIPPED = frozenset({"resourceType", "extension", "modifierExtension", "contained", "id"})
_COMMENTS = "fhir_comments"  # DSTU2 JSON comments: no place for them in later versions


@functools.lru_cache(maxsize=4096)
def _children(found: Catalogue, parent: str) -> dict[str, Element]:
    return {name: element for name in found.names(parent) if (element := found.child(parent, name)) is not None}


def _restore(node: Node, children: dict[str, Element], prefixes: tuple[str, ...]) -> None:
    """Elements kept as extensions with `prefix` + name on an earlier pass, back in place (all values of a repeating
    one; the kept value wins over one a rule derived, and an item kept from a shortened list joins the first)."""
    taken: dict[str, list[Any]] = {}
    kept = []
    for extension in node["extension"]:
        url = extension.get("url") if type(extension) is dict else None
        name = _kept_name(url, prefixes) if type(url) is str else None
        if name is not None and name in children:
            taken.setdefault(name, []).append(ext.decode(extension))
        else:
            kept.append(extension)
    if not taken:
        return
    if kept:
        node["extension"] = kept
    else:
        del node["extension"]
    for name, values in taken.items():
        current = node.get(name)
        if not children[name].repeating:
            node[name] = values[0]
        elif current is not None and type(current) is not list:
            node[name] = [current, *values]
        else:
            node[name] = values
        node.pop("_" + name, None)


def _kept_name(url: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if url.startswith(prefix):
            return url[len(prefix) :]
    return None


def _source_type(step: Step, parent: str, path: str, key: str) -> str | None:
    """The element's data type in the source version, when the source defines it where the target's parent is."""
    source = catalogue(step.source)
    if parent.startswith(step.target_type):
        parent = step.source_type + parent[len(step.target_type) :]
    element = source.child(parent, key)
    if element is None or element.type in ("BackboneElement", "Element") or element.type.startswith(("@", "System.")):
        return None
    return element.type


def _move_out(node: Node, key: str, value: Any, url: str, data_type: str | None) -> None:
    node.pop("_" + key, None)  # the primitive's own extensions leave with it
    ext.add(node, ext.encode(url, value, data_type))


def _walk(node: Node, parent: str, path: str, source_path: str, step: Step, found: Catalogue) -> None:
    """`parent` is where the node's elements are defined (a backbone element's path, or a data type's name), `path`
    the node's path from the resource in the target version, `source_path` the same in the source version. An
    element of a data type is named by the data type (`Reference.identifier`, as the spec names cross-version
    extensions), one of a resource or backbone element by its path from the resource."""
    children = _children(found, parent)
    in_data_type = parent != step.target_type and not parent.startswith(step.target_type + ".")
    if "extension" in node and type(node["extension"]) is list:
        prefixes: tuple[str, ...] = (ext.url_for(step.target, path + "."),)
        if in_data_type or parent != path:
            prefixes += (ext.url_for(step.target, parent + "."),)
        _restore(node, children, prefixes)
    base = parent if in_data_type else source_path
    if "extension" in node and type(node["extension"]) is list:
        _walk_extensions(node["extension"], step, found)
    for key in [k for k in node if k not in _SKIPPED]:
        if key == _COMMENTS:
            del node[key]
            continue
        name = key[1:] if key[0] == "_" else key
        element = children.get(name)
        url = ext.url_for(step.source, f"{base}.{key}")
        if element is None:
            if key[0] != "_" or name not in node:
                value = node.pop(key)
                if key[0] != "_":
                    _move_out(node, key, value, url, _source_type(step, parent, path, key))
            continue
        if key[0] == "_":
            continue
        value = node[key]
        if type(value) is list:
            if not element.repeating:
                if not value:
                    del node[key]
                    continue
                node[key], rest = value[0], value[1:]
                ext.add(node, ext.encode(url, rest))
        elif element.repeating:
            node[key] = [value]
        _check_values(node, key, element, url, path, source_path, step, found)


def _check_values(
    node: Node, key: str, element: Element, url: str, path: str, source_path: str, step: Step, found: Catalogue
) -> None:
    value = node[key]
    items = value if type(value) is list else [value]
    if element.children is None:  # a primitive: a structure here is not one, a code must be in the binding
        wrong: list[Any] = [i for i in items if type(i) is dict or type(i) is list]
        if element.codes is not None:
            wrong += [i for i in items if type(i) is str and i not in element.codes]
        if wrong:
            kept = [i for i in items if not any(i is w for w in wrong)]
            if kept:
                node[key] = kept if type(value) is list else kept[0]
            else:
                del node[key]
            node.pop("_" + key, None)
            ext.add(node, ext.encode(url, wrong, "code" if element.codes is not None else None))
            if not kept and element.required:
                node["_" + key] = {"extension": [ext.data_absent()]}
        return
    for item in items:
        if type(item) is dict:
            _walk(item, element.children, f"{path}.{key}", f"{source_path}.{key}", step, found)


def _walk_extensions(extensions: list[Any], step: Step, found: Catalogue) -> None:
    """The values of extensions are data types of the target version too (a Reference in one has no identifier in
    DSTU2)."""
    for extension in extensions:
        if type(extension) is not dict:
            continue
        for key, value in extension.items():
            if key == "extension" and type(value) is list:
                _walk_extensions(value, step, found)
            elif key.startswith("value") and type(value) is dict and found.defines(key[5:]):
                _walk(value, key[5:], key[5:], key[5:], step, found)


def apply(resource: Node, step: Step) -> None:
    """The net over one resource after the rules of `step` ran (contained resources are converted on their own)."""
    _walk(resource, step.target_type, step.target_type, step.source_type, step, catalogue(step.target))
