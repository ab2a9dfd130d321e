"""The kinds of rule the bridge's tables are written in; each one knows its way up (older -> newer) and down.

A table lists a resource's rules in the order they run up; going down, their inverses run in reverse order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.version_bridge import extensions as ext
from shared.version_bridge import paths
from shared.version_bridge.elements import ELEMENTS
from shared.version_bridge.paths import Node

DATA_ABSENT = "<data-absent-reason>"  # a rule's derived value meaning: use the spec's data-absent-reason


@dataclass(frozen=True)
class Step:
    """One conversion between adjacent versions, with the resource's type name on both sides."""

    source: str  # version name: DSTU2, STU3, R4
    target: str
    source_type: str
    target_type: str
    up: bool  # older -> newer

    def source_url(self, path: str) -> str:
        return _url(self.source, self.source_type, path)

    def target_url(self, path: str) -> str:
        return _url(self.target, self.target_type, path)


@functools.lru_cache(maxsize=4096)
def _url(version: str, resource_type: str, path: str) -> str:
    return ext.url_for(version, f"{resource_type}.{path}")


class Rule(Protocol):
    def apply(self, resource: Node, step: Step) -> None: ...


Keys = frozenset[str] | None  # the resource's elements a rule can act on (None: it may act on any resource)


def keys_of(rule: Rule, up: bool) -> Keys:
    """The top-level keys without which `rule` leaves the resource unchanged going up (or down): a conversion skips
    a rule none of whose keys the resource has at that moment. None for a rule that may act on any resource."""
    found: Any = getattr(rule, "keys", None)
    return found(up) if callable(found) else None


@functools.lru_cache(maxsize=1024)
def _split(path: str) -> list[str]:
    """The path's segments (cached: the same few hundred paths are split on every conversion; never mutated)."""
    return path.split(".")


def _reach(path: str, restoring: bool) -> frozenset[str]:
    """The keys of a rule on `path`: its first element (and, when it reads values kept in extensions, `extension`,
    where they live when the element is absent, and the first element's `_name` for a rule that reads it)."""
    first = path.split(".", 1)[0]
    return frozenset({first, "extension"}) if restoring else frozenset({first})


def _move(resource: Node, source: str, target: str) -> None:
    src, dst = _split(source), _split(target)
    for holder, relative in paths.holders(resource, src):
        consumed = len(src) - len(relative)
        value = paths.pop(holder, relative)
        if value is not None:
            paths.put(holder, dst[consumed:], value)


def _set_absent(holder: Node, relative: list[str], data_type: str) -> None:
    """A required element with no value: data-absent-reason on the primitive (`_name`) or on the complex value."""
    if data_type in ("code", "string", "dateTime", "boolean", "uri"):
        paths.put(holder, [*relative[:-1], "_" + relative[-1]], {"extension": [ext.data_absent()]})
    else:
        paths.put(holder, relative, {"extension": [ext.data_absent()]})


def _require(holder: Node, relative: list[str], derived: Any, data_type: str) -> None:
    if paths.present(paths.get(holder, relative)):
        return
    underscored = [*relative[:-1], "_" + relative[-1]]
    if paths.get(holder, underscored) is not None:
        return
    if derived == DATA_ABSENT:
        _set_absent(holder, relative, data_type)
    else:
        paths.put(holder, relative, derived)


@dataclass(frozen=True)
class Renamed:
    """The same element under another name (or one level deeper/shallower): `older` path <-> `newer` path."""

    older: str
    newer: str

    def apply(self, resource: Node, step: Step) -> None:
        _move(resource, self.older, self.newer) if step.up else _move(resource, self.newer, self.older)

    def keys(self, up: bool) -> Keys:
        return _reach(self.older if up else self.newer, restoring=False)


@dataclass(frozen=True)
class OnlyIn:
    """An element one side of the pair has and the other lacks: kept as a cross-version extension on the way out,
    restored from it on the way back."""

    newer_only: bool
    path: str
    data_type: str | None = None
    repeating: bool = False

    def apply(self, resource: Node, step: Step) -> None:
        leaving = step.up != self.newer_only  # up and older-only, or down and newer-only
        for holder, relative in paths.holders(resource, _split(self.path)):
            if leaving:
                value = paths.pop(holder, relative)
                if paths.present(value):
                    ext.add(holder, ext.encode(step.source_url(self.path), value, self.data_type))
            else:
                values = [ext.decode(e) for e in ext.take(holder, step.target_url(self.path))]
                if values and not paths.present(paths.get(holder, relative)):
                    paths.put(holder, relative, values if self.repeating else values[0])

    def keys(self, up: bool) -> Keys:
        return _reach(self.path, restoring=up == self.newer_only)


@dataclass(frozen=True)
class Cardinality:
    """0..* on one side, 0..1 on the other: the first item stays, the others become extensions (and come back)."""

    path: str
    many_in_newer: bool
    data_type: str | None = None

    def apply(self, resource: Node, step: Step) -> None:
        to_many = step.up == self.many_in_newer
        for holder, relative in paths.holders(resource, _split(self.path)):
            value = paths.get(holder, relative)
            if to_many:
                extras = [ext.decode(e) for e in ext.take(holder, step.target_url(self.path))]
                if value is not None and not isinstance(value, list):
                    paths.put(holder, relative, [value, *extras])
                elif extras:
                    paths.put(holder, relative, extras)
            elif isinstance(value, list):
                if not value:
                    paths.pop(holder, relative)
                    continue
                paths.put(holder, relative, value[0])
                ext.add(holder, ext.encode(step.source_url(self.path), value[1:], self.data_type))

    def keys(self, up: bool) -> Keys:
        return _reach(self.path, restoring=up == self.many_in_newer)


@dataclass(frozen=True)
class Required:
    """An element required on one side: when the other side has no value, `derived` (a documented value, or
    DATA_ABSENT for the spec's data-absent-reason) fills it."""

    path: str
    in_newer: bool
    derived: Any
    data_type: str = "code"

    def apply(self, resource: Node, step: Step) -> None:
        if step.up != self.in_newer:
            # The way back: a value equal to the derived one, for an element the target lacks, was derived here.
            if "." not in self.path:
                value = resource.get(self.path)
                absent = value == {"extension": [ext.data_absent()]} or value == [{"extension": [ext.data_absent()]}]
                if absent or (value == self.derived and self.path not in ELEMENTS[step.target][step.target_type]):
                    resource.pop(self.path, None)
                if self.derived == DATA_ABSENT and resource.get("_" + self.path) == {"extension": [ext.data_absent()]}:
                    del resource["_" + self.path]
            return
        for holder, relative in paths.holders(resource, _split(self.path)):
            _require(holder, relative, self.derived, self.data_type)

    def keys(self, up: bool) -> Keys:
        if up == self.in_newer:
            return None  # fills a missing value: acts on any resource
        return frozenset({self.path, "_" + self.path}) if "." not in self.path else frozenset()


@dataclass(frozen=True)
class Codes:
    """A coded element whose value sets differ. `up`/`down` map the codes that change; a code the target does not
    have becomes an extension, and `*_default` (or nothing) takes its place. A mapping that cannot be reversed
    keeps the original code in an extension, so the way back restores it."""

    path: str
    up_map: Mapping[str, str]
    down_map: Mapping[str, str]
    older_codes: frozenset[str]
    newer_codes: frozenset[str]
    up_default: Any = None
    down_default: Any = None
    shape: str = "code"  # code | Coding | CodeableConcept: how the newer side holds it
    system: str = ""  # for Coding/CodeableConcept shapes, the code system on the newer side
    older_shape: str = "code"

    def _code_of(self, value: Any, shape: str) -> str | None:
        if shape == "code":
            return value if isinstance(value, str) else None
        codings = [value] if shape == "Coding" else (value.get("coding") or [] if isinstance(value, dict) else [])
        for coding in codings:
            if isinstance(coding, dict) and coding.get("system") in (self.system, None, "") and coding.get("code"):
                return str(coding["code"])
        return None

    def _shaped(self, code: str, shape: str) -> Any:
        if shape == "code":
            return code
        coding = {"system": self.system, "code": code} if self.system else {"code": code}
        return coding if shape == "Coding" else {"coding": [coding]}

    def _is_plain(self, value: Any, shape: str) -> bool:
        """Whether the value is nothing but its code (so nothing else needs keeping)."""
        if shape == "code":
            return True
        if shape == "Coding":
            return set(value) <= {"system", "code"}
        codings = value.get("coding") or []
        return set(value) == {"coding"} and len(codings) == 1 and set(codings[0]) <= {"system", "code"}

    def apply(self, resource: Node, step: Step) -> None:
        source_shape, target_shape = (self.older_shape, self.shape) if step.up else (self.shape, self.older_shape)
        mapping = self.up_map if step.up else self.down_map
        back = self.down_map if step.up else self.up_map
        allowed = self.newer_codes if step.up else self.older_codes
        default = self.up_default if step.up else self.down_default
        plain = source_shape == "code" and target_shape == "code"
        marker_key = self._marker_key
        for holder, relative in paths.holders(resource, _split(self.path)):
            if plain and len(relative) == 1 and "extension" not in holder and marker_key not in holder:
                # The common case, in short: a code both versions have, nothing kept from an earlier pass.
                key = relative[0]
                value = holder.pop(key, None)
                if value is None:
                    continue
                same = mapping.get(value, value) if type(value) is str else None
                if same in allowed and back.get(same, same) == value:
                    holder[key] = same
                    continue
                holder[key] = value  # back in its place (last, as the general way below leaves it): decided there
            saved = ext.take(holder, step.target_url(self.path))
            value = paths.pop(holder, relative)
            marker = [*relative[:-1], "_" + relative[-1]]
            if paths.get(holder, marker) == {"extension": [ext.data_absent()]}:
                paths.pop(holder, marker)  # the data-absent-reason a previous pass put in its place
            if saved:  # the target version's own value, kept when it came this way before
                paths.put(holder, relative, ext.decode(saved[0]))
                continue
            if value is None:
                continue
            code = self._code_of(value, source_shape)
            mapped = mapping.get(code, code) if code is not None else None
            if mapped is not None and mapped in allowed:
                paths.put(holder, relative, self._shaped(mapped, target_shape))
                lossy = back.get(mapped, mapped) != code or not self._is_plain(value, source_shape)
            else:
                if default is not None:
                    _require(
                        holder,
                        relative,
                        self._shaped(default, target_shape) if default != DATA_ABSENT else default,
                        "code" if target_shape == "code" else target_shape,
                    )
                lossy = True
            if lossy:
                kind = {"code": "code", "Coding": "Coding", "CodeableConcept": "CodeableConcept"}[source_shape]
                ext.add(holder, ext.encode(step.source_url(self.path), value, kind))

    def keys(self, up: bool) -> Keys:
        return _reach(self.path, restoring=True) | {"_" + self.path.split(".", 1)[0]}

    @functools.cached_property
    def _marker_key(self) -> str:
        """Where a previous pass's data-absent-reason for the element sits on its holder (`_name`)."""
        return "_" + self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Transform:
    """A change no simple rule expresses (a structure split or regrouped); `up` and `down` are named functions
    documented where they are defined."""

    name: str
    up: Callable[[Node, Step], None]
    down: Callable[[Node, Step], None]
    notes: str = field(default="", compare=False)

    def apply(self, resource: Node, step: Step) -> None:
        (self.up if step.up else self.down)(resource, step)
