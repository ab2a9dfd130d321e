"""The bridge's safety net, run after a step's rules: every element the target version does not define, at any depth,
becomes a cross-version extension on its parent (and one kept that way comes back); a list where one value belongs
keeps its first item; a code outside the target's required binding is kept in an extension; DSTU2's JSON comments go.

The catalogue (catalogue.py, generated from HL7's definitions) says what the target defines. Extension URLs name the
element by its path from the resource (`MedicationRequest.dosageInstruction.sequence`) in the version it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.version_bridge import extensions as ext
from shared.version_bridge.catalogue import Element, catalogue, same_in_every_version
from shared.version_bridge.paths import Node
from shared.version_bridge.respell import Respeller, respeller
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


# What the net does with a key at one place in the target's catalogue:
# (element, repeating, children's parent (None for a primitive), required codes, whether to look inside).
Entry = tuple[Element, bool, str | None, frozenset[str] | None, bool]
_SKIP: Entry = (Element("", False, False, None, None), False, None, None, False)  # a key the net leaves alone


Walk = Callable[[Any, str, str, str, "Plan"], None]  # _walk over a node, _items over a list of them, or _kept
Here = tuple[str, str, str, "Place"]  # where a node is: its path, its path in the source version, its parent, its place


@dataclass(frozen=True, slots=True)
class Place:
    """The plan for the nodes defined at one parent (a resource, backbone element or data type) in one step: the
    target's elements there and what to do with each key, computed once from the catalogues. Two short cuts cover
    most keys: `plain`, the single-valued primitives without a required binding (fine unless their value is a
    structure), and `enter`, the structures the net walks into, with the JSON type their value has when it is
    already in shape (a list for a repeating one)."""

    children: dict[str, Element]
    entries: dict[str, Entry]
    plain: frozenset[str]
    enter: dict[str, tuple[str, type, Walk]]
    coded: dict[str, frozenset[str]]  # single-valued codes with a required binding: fine when one of its codes
    many: frozenset[str]  # repeating primitives without a required binding: fine as a list of primitives
    in_data_type: bool  # a data type's elements are named by the data type in extension URLs
    respelled: bool  # the target defines `system`, `reference` or `display` here: the node may need respelling


class Plan:
    """The safety net's plan for one step (source and target version and resource type): a Place per parent,
    made the first time a conversion reaches it. `respell` is the step's R4 respelling (None without R4), applied
    to each node as the net leaves it and to every structure the net does not enter; `plain` is the same plan
    without it, for the values of extensions (respelled with the extension list that holds them)."""

    def __init__(self, step: Step, respell: Respeller | None, places: dict[str, Place] | None = None) -> None:
        self.step = step
        self.found = catalogue(step.target)
        self.stable = same_in_every_version() if step.source != "DSTU2" else frozenset()  # DSTU2 comments anywhere
        self.respell = respell
        self.places: dict[str, Place] = {} if places is None else places
        self.plain = self if respell is None else Plan(step, None, self.places)

    def place(self, parent: str) -> Place:
        found = self.places.get(parent)
        if found is None:
            found = self.places[parent] = self._make(parent)
        return found

    def _make(self, parent: str) -> Place:
        step = self.step
        children = self.found.children_of(parent)
        same = _same_type_keys(step, parent)
        entries: dict[str, Entry] = {}
        for name, element in children.items():
            sub = element.children
            # A structure whose type is defined alike in every version, and alike here in source and target, holds
            # nothing to convert: the net does not look inside.
            inside = sub is not None and (sub not in self.stable or name not in same)
            entries[name] = (element, element.repeating, sub, element.codes, inside)
        entries.update(dict.fromkeys(_SKIPPED, _SKIP))
        # The keys the net leaves alone (the resource's type and id ...) are fine unless their value is a structure,
        # like single-valued primitives; `extension` is read where the net enters a node.
        plain = frozenset(
            name
            for name, (_, repeating, sub, codes, _) in entries.items()
            if not repeating and sub is None and codes is None and name != "extension"
        )
        many = frozenset(
            name
            for name, (_, repeating, sub, codes, _) in entries.items()
            if repeating and sub is None and codes is None
        )
        enter: dict[str, tuple[str, type, Walk]] = {
            name: (sub, list if repeating else dict, (_items if repeating else _walk) if inside else _kept)
            for name, (_, repeating, sub, _, inside) in entries.items()
            if sub is not None
        }
        coded = {
            name: codes
            for name, (_, repeating, sub, codes, _) in entries.items()
            if not repeating and sub is None and codes is not None
        }
        in_data_type = parent != step.target_type and not parent.startswith(step.target_type + ".")
        respelled = not {"system", "reference", "display"}.isdisjoint(children)
        return Place(children, entries, plain, enter, coded, many, in_data_type, respelled)


_PLANS: dict[tuple[Step, bool], Plan] = {}


def plan(step: Step, respell: bool = True) -> Plan:
    """The plan of `step` (made once per step and kept: a few hundred places at most per step)."""
    key = (step, respell)
    found = _PLANS.get(key)
    if found is None:
        found = _PLANS[key] = Plan(step, respeller(step.source, step.target) if respell else None)
    return found


def _walk(node: Node, parent: str, path: str, source_path: str, net: Plan) -> None:
    """`parent` is where the node's elements are defined (a backbone element's path, or a data type's name), `path`
    the node's path from the resource in the target version, `source_path` the same in the source version. An
    element of a data type is named by the data type (`Reference.identifier`, as the spec names cross-version
    extensions), one of a resource or backbone element by its path from the resource."""
    place = net.places.get(parent) or net.place(parent)
    if "extension" in node and type(node["extension"]) is list:
        _extensions_here(node, place, parent, path, net)
    later = _keys(node, place, (path, source_path, parent, place), net)
    if net.respell is not None and (later is not None or place.respelled or "extension" in node):
        _leave(node, later, net.respell)


def _keys(node: Node, place: Place, here: Here, net: Plan) -> list[str] | None:
    """Each key of the node; the keys whose values are left to respell when the net leaves the node. On the hot
    path: the common cases (a primitive, a code, a structure in shape) cost a look-up and a type check."""
    plain, enter, coded, many = place.plain, place.enter, place.coded, place.many
    path, source_path = here[0], here[1]
    later: list[str] | None = None
    for key in list(node):
        if key in plain:
            kind = type(node[key])
            if kind is not dict and kind is not list:
                continue
        found = enter.get(key)
        if found is not None and type(node[key]) is found[1]:
            found[2](node[key], found[0], f"{path}.{key}", f"{source_path}.{key}", net)
            continue
        codes = coded.get(key)
        if codes is not None and type(node[key]) is str and node[key] in codes:
            continue
        if key in many and type(node[key]) is list and not _any_structure(node[key]):
            continue
        if _other(node, key, here, net):
            later = [key] if later is None else [*later, key]
    return later


def _other(node: Node, key: str, here: Here, net: Plan) -> bool:
    """A key off the short cuts: an element out of shape, one the net does not enter, a key the target does not
    define here. True when the key stays and its value is a structure to respell when the net leaves the node."""
    place = here[3]
    entry = place.entries.get(key)
    if entry is None:
        path, source_path, parent = here[0], here[1], here[2]
        _unknown(node, key, place.children, parent, path, parent if place.in_data_type else source_path, net.step)
        return key in node and net.respell is not None  # a primitive's `_name` stays
    if entry is _SKIP:
        kind = type(node[key])
        return key != "extension" and net.respell is not None and (kind is dict or kind is list)
    _element(node, key, entry, here, net)
    return False


def _element(node: Node, key: str, entry: Entry, here: Here, net: Plan) -> None:
    """One element the target defines here: a list where one value belongs shortened, one value where a list
    belongs wrapped, a primitive checked, a structure entered (or respelled whole when the net need not enter)."""
    element, repeating, sub, codes, inside = entry
    base = here[2] if here[3].in_data_type else here[1]
    value = node[key]
    kind = type(value)
    if repeating:
        if kind is not list:
            node[key] = value = [value]
            kind = list
    elif kind is list:
        value = _with_cardinality(node, key, base, net.step)
        if value is None:
            return
        kind = type(value)
    if sub is not None:
        if inside:
            _into(node, key, sub, (here[0], here[1], base), net)
        elif net.respell is not None and (kind is dict or kind is list):
            net.respell.tree(value)
        return
    if codes is None:
        if kind is dict or (kind is list and _any_structure(value)):
            _check_primitive(node, key, element, ext.url_for(net.step.source, f"{base}.{key}"))
    elif kind is not str or value not in codes:
        _check_primitive(node, key, element, ext.url_for(net.step.source, f"{base}.{key}"))


def _any_structure(items: list[Any]) -> bool:
    for item in items:
        if type(item) is dict or type(item) is list:
            return True
    return False


def _items(items: list[Any], sub: str, path: str, source_path: str, net: Plan) -> None:
    """The net over each item of a repeating structure (a list in a list, which the net leaves, is respelled)."""
    for item in items:
        if type(item) is dict:
            _walk(item, sub, path, source_path, net)
        elif type(item) is list and net.respell is not None:
            net.respell.tree(item)


def _kept(value: Any, sub: str, path: str, source_path: str, net: Plan) -> None:
    """A structure defined alike in source and target (Coding, Period ...): nothing to convert, only to respell."""
    if net.respell is not None:
        net.respell.tree(value)


def _leave(node: Node, later: list[str] | None, respell: Respeller) -> None:
    """The node respelled as the net leaves it: its own `system`/`type`, then the structures the net did not enter
    (extensions, contained resources, a primitive's `_name` ...), as they are now."""
    respell.node(node)
    for key in later or ():
        value = node.get(key)
        if type(value) is dict or type(value) is list:
            respell.tree(value)
    extensions = node.get("extension")
    if type(extensions) is dict or type(extensions) is list:
        respell.tree(extensions)


def _into(node: Node, key: str, sub: str, paths_here: tuple[str, str, str], net: Plan) -> None:
    """The safety net over a structure's value (each item of a list); a primitive where it belongs is moved out."""
    path, source_path, base = paths_here
    value = node[key]
    if type(value) is dict:
        _walk(value, sub, f"{path}.{key}", f"{source_path}.{key}", net)
    elif type(value) is list:
        _items(value, sub, f"{path}.{key}", f"{source_path}.{key}", net)
    else:
        _move_out(node, key, node.pop(key), ext.url_for(net.step.source, f"{base}.{key}"), None)


def _extensions_here(node: Node, place: Place, parent: str, path: str, net: Plan) -> None:
    """Elements kept as extensions on this node come back; the values of the others are checked as data types."""
    step = net.step
    prefixes: tuple[str, ...] = (ext.url_for(step.target, path + "."),)
    if place.in_data_type or parent != path:
        prefixes += (ext.url_for(step.target, parent + "."),)
    _restore(node, place.children, prefixes)
    if type(node.get("extension")) is list:
        _walk_extensions(node["extension"], net.plain)


def _with_cardinality(node: Node, key: str, base: str, step: Step) -> Any:
    """A list where the target has one value: its first item (None when the list was empty)."""
    _shorten(node, key, node[key], ext.url_for(step.source, f"{base}.{key}"))
    return node.get(key)


_STRUCTURES = (dict, list)


def _unknown(node: Node, key: str, children: dict[str, Element], parent: str, path: str, base: str, step: Step) -> None:
    """A key the target does not define here: DSTU2 comments go; a primitive's `_name` stays with its element;
    anything else becomes a cross-version extension."""
    if key == _COMMENTS:
        del node[key]
        return
    if key[0] == "_":
        if key[1:] not in children:  # the extensions of a primitive the target lacks (its value became an extension)
            node.pop(key, None)  # already gone when its element was moved out first
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


def _walk_extensions(extensions: list[Any], net: Plan) -> None:
    """The values of extensions are data types of the target version too (a Reference in one has no identifier in
    DSTU2)."""
    found = net.found
    for extension in extensions:
        if type(extension) is not dict:
            continue
        for key, value in extension.items():
            if key == "extension" and type(value) is list:
                _walk_extensions(value, net)
            elif key.startswith("value") and type(value) is dict and found.defines(key[5:]):
                _walk(value, key[5:], key[5:], key[5:], net)


def apply(resource: Node, step: Step, respell: bool = True) -> None:
    """The net over one resource after the rules of `step` ran (contained resources are converted on their own),
    and, in a step to or from R4, the resource respelled (respell.py) in the same walk."""
    run(resource, plan(step, respell))


def run(resource: Node, net: Plan) -> None:
    """`apply` with the step's plan at hand."""
    _walk(resource, net.step.target_type, net.step.target_type, net.step.source_type, net)
