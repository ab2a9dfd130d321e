"""The bridge's safety net, run after a step's rules: every element the target version does not define, at any depth,
becomes a cross-version extension on its parent (and one kept that way comes back); a list where one value belongs
keeps its first item; a code outside the target's required binding is kept in an extension; DSTU2's JSON comments go.

The catalogue (catalogue.py, generated from HL7's definitions) says what the target defines. Extension URLs name the
element by its path from the resource (`MedicationRequest.dosageInstruction.sequence`) in the version it came from.
"""

from __future__ import annotations

from typing import Any

from shared.version_bridge import extensions as ext
from shared.version_bridge.catalogue import Catalogue, Element, catalogue, same_in_every_version
from shared.version_bridge.paths import Node
from shared.version_bridge.rules import Step

_SKIPPED = frozenset({"resourceType", "extension", "modifierExtension", "contained", "id"})
_COMMENTS = "fhir_comments"  # DSTU2 JSON comments: no place for them in later versions


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


def _walk(
    node: Node, parent: str, path: str, source_path: str, step: Step, found: Catalogue, stable: frozenset[str]
) -> None:
    """`parent` is where the node's elements are defined (a backbone element's path, or a data type's name), `path`
    the node's path from the resource in the target version, `source_path` the same in the source version. An
    element of a data type is named by the data type (`Reference.identifier`, as the spec names cross-version
    extensions), one of a resource or backbone element by its path from the resource. On the hot path: the common
    case (a known element of the right shape) costs a dict look-up and type checks."""
    children = found._children.get(parent) or found.children_of(parent)
    in_data_type = parent != step.target_type and not parent.startswith(step.target_type + ".")
    if "extension" in node and type(node["extension"]) is list:
        _extensions_here(node, children, parent, path, in_data_type, step, found, stable)
    base = parent if in_data_type else source_path
    for key in list(node):
        element = children.get(key)
        if element is None or key in _SKIPPED:
            if key not in _SKIPPED:
                _unknown(node, key, children, parent, path, base, step)
            continue
        value = node[key]
        kind = type(value)
        if element.repeating:
            if kind is not list:
                node[key] = value = [value]
                kind = list
        elif kind is list:
            value = _with_cardinality(node, key, element, base, step)
            if value is None:
                continue
            kind = type(value)
        sub = element.children
        if sub is None:
            if not _primitive_ok(element, value, kind):
                _check_primitive(node, key, element, ext.url_for(step.source, f"{base}.{key}"))
        elif sub not in stable or key not in _same_type_keys(step, parent):  # else defined alike: nothing to do
            _into(node, key, sub, (path, source_path, base), step, found, stable)


def _into(
    node: Node,
    key: str,
    sub: str,
    paths_here: tuple[str, str, str],
    step: Step,
    found: Catalogue,
    stable: frozenset[str],
) -> None:
    """The safety net over a structure's value (each item of a list); a primitive where it belongs is moved out."""
    path, source_path, base = paths_here
    value = node[key]
    if type(value) is dict:
        _walk(value, sub, f"{path}.{key}", f"{source_path}.{key}", step, found, stable)
    elif type(value) is list:
        inner, source_inner = f"{path}.{key}", f"{source_path}.{key}"
        for item in value:
            if type(item) is dict:
                _walk(item, sub, inner, source_inner, step, found, stable)
    else:
        _move_out(node, key, node.pop(key), ext.url_for(step.source, f"{base}.{key}"), None)


def _extensions_here(
    node: Node,
    children: dict[str, Element],
    parent: str,
    path: str,
    in_data_type: bool,
    step: Step,
    found: Catalogue,
    stable: frozenset[str],
) -> None:
    """Elements kept as extensions on this node come back; the values of the others are checked as data types."""
    prefixes: tuple[str, ...] = (ext.url_for(step.target, path + "."),)
    if in_data_type or parent != path:
        prefixes += (ext.url_for(step.target, parent + "."),)
    _restore(node, children, prefixes)
    if type(node.get("extension")) is list:
        _walk_extensions(node["extension"], step, found, stable)


def _with_cardinality(node: Node, key: str, element: Element, base: str, step: Step) -> Any:
    """A list where the target has one value: its first item (None when the list was empty)."""
    _shorten(node, key, node[key], ext.url_for(step.source, f"{base}.{key}"))
    return node.get(key)


def _primitive_ok(element: Element, value: Any, kind: type) -> bool:
    codes = element.codes
    if codes is None:
        if kind is dict:
            return False
        if kind is list:
            for item in value:
                if type(item) is dict or type(item) is list:
                    return False
        return True
    return kind is str and value in codes


_STRUCTURES = (dict, list)


def _unknown(node: Node, key: str, children: dict[str, Element], parent: str, path: str, base: str, step: Step) -> None:
    """A key the target does not define here: DSTU2 comments go; a primitive's `_name` stays with its element;
    anything else becomes a cross-version extension."""
    if key == _COMMENTS:
        del node[key]
        return
    if key[0] == "_":
        if key[1:] not in children:
            del node[key]  # the extensions of a primitive the target lacks (its value became an extension)
        return
    value = node.pop(key)
    _move_out(node, key, value, ext.url_for(step.source, f"{base}.{key}"), _source_type(step, parent, path, key))


def _shorten(node: Node, key: str, value: list[Any], url: str) -> None:
    """A list where the target has one value: the first item stays, the others are kept as extensions."""
    if not value:
        del node[key]
        return
    node[key] = value[0]
    ext.add(node, ext.encode(url, value[1:]))


def _check_primitive(node: Node, key: str, element: Element, url: str) -> None:
    """A primitive element: a structure there is not one, a code must be in the target's required binding; what
    fails is kept as an extension (a required code that fails leaves data-absent-reason in its place)."""
    value = node[key]
    items = value if type(value) is list else [value]
    wrong: list[Any] = [i for i in items if type(i) in _STRUCTURES]
    if element.codes is not None:
        wrong += [i for i in items if type(i) is str and i not in element.codes]
    if not wrong:
        return
    kept = [i for i in items if not any(i is w for w in wrong)]
    if kept:
        node[key] = kept if type(value) is list else kept[0]
    else:
        del node[key]
    node.pop("_" + key, None)
    ext.add(node, ext.encode(url, wrong, "code" if element.codes is not None else None))
    if not kept and element.required:
        node["_" + key] = {"extension": [ext.data_absent()]}


_SAME_TYPE_KEYS: dict[tuple[str, str, str, str], frozenset[str]] = {}


def _same_type_keys(step: Step, parent: str) -> frozenset[str]:
    """The elements under `parent` whose data type is the same in the source version as in the target."""
    key = (step.source, step.target, step.source_type, parent)
    found = _SAME_TYPE_KEYS.get(key)
    if found is None:
        source, target = catalogue(step.source), catalogue(step.target)
        source_parent = parent
        if parent == step.target_type or parent.startswith(step.target_type + "."):
            source_parent = step.source_type + parent[len(step.target_type) :]
        mine = source.children_of(source_parent) if source.defines(source_parent.split(".", 1)[0]) else {}
        found = _SAME_TYPE_KEYS[key] = frozenset(
            name
            for name, element in target.children_of(parent).items()
            if name in mine and mine[name].type == element.type
        )
    return found


def _walk_extensions(extensions: list[Any], step: Step, found: Catalogue, stable: frozenset[str]) -> None:
    """The values of extensions are data types of the target version too (a Reference in one has no identifier in
    DSTU2)."""
    for extension in extensions:
        if type(extension) is not dict:
            continue
        for key, value in extension.items():
            if key == "extension" and type(value) is list:
                _walk_extensions(value, step, found, stable)
            elif key.startswith("value") and type(value) is dict and found.defines(key[5:]):
                _walk(value, key[5:], key[5:], key[5:], step, found, stable)


def apply(resource: Node, step: Step) -> None:
    """The net over one resource after the rules of `step` ran (contained resources are converted on their own)."""
    stable = same_in_every_version() if step.source != "DSTU2" else frozenset()  # DSTU2 comments are anywhere
    _walk(resource, step.target_type, step.target_type, step.source_type, step, catalogue(step.target), stable)
