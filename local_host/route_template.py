"""Route templates as the Functions host (ASP.NET Core routing) understands them: parsing and matching."""

from __future__ import annotations

import itertools
import logging
import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

logger = logging.getLogger(__name__)

_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_ALPHA = re.compile(r"^[A-Za-z]+$")


class RouteTemplateError(ValueError):
    """A route template the Functions host would refuse to register."""


Constraint = Callable[[str], bool]


def _int_range(bits: int) -> Constraint:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: str) -> bool:
        return bool(_INTEGER.match(value)) and low <= int(value) <= high

    return check


def _is_float(value: str) -> bool:
    return bool(_FLOAT.match(value)) and math.isfinite(float(value))


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _as_int(value: str) -> int | None:
    return int(value) if _INTEGER.match(value) else None


_SIMPLE_CONSTRAINTS: dict[str, Constraint] = {
    "int": _int_range(32),
    "long": _int_range(64),
    "alpha": lambda value: bool(_ALPHA.match(value)),
    "bool": lambda value: value.lower() in ("true", "false"),
    "guid": _is_guid,
    "decimal": _is_float,
    "double": _is_float,
    "float": _is_float,
    "datetime": _is_datetime,
    "required": lambda value: value != "",
}


def _constraint_with_arguments(kind: str, arguments: str) -> Constraint | None:
    """Build min/max/range/length/minlength/maxlength/regex constraints; None if the arguments are unusable."""
    if kind == "regex":
        try:
            pattern = re.compile(arguments, re.IGNORECASE)
        except re.error:
            return None
        # ASP.NET's regex constraint is not implicitly anchored.
        return lambda value: pattern.search(value) is not None
    numbers = [part.strip() for part in arguments.split(",")]
    if not all(_INTEGER.match(number) for number in numbers):
        return None
    bounds = [int(number) for number in numbers]
    if kind == "min" and len(bounds) == 1:
        return lambda value: (number := _as_int(value)) is not None and number >= bounds[0]
    if kind == "max" and len(bounds) == 1:
        return lambda value: (number := _as_int(value)) is not None and number <= bounds[0]
    if kind == "range" and len(bounds) == 2:
        return lambda value: (number := _as_int(value)) is not None and bounds[0] <= number <= bounds[1]
    if kind == "minlength" and len(bounds) == 1:
        return lambda value: len(value) >= bounds[0]
    if kind == "maxlength" and len(bounds) == 1:
        return lambda value: len(value) <= bounds[0]
    if kind == "length" and len(bounds) == 1:
        return lambda value: len(value) == bounds[0]
    if kind == "length" and len(bounds) == 2:
        return lambda value: bounds[0] <= len(value) <= bounds[1]
    return None


def build_constraint(text: str, template: str) -> Constraint | None:
    """Turn one inline constraint ("int", "min(1)", "regex(^a)") into a check; None (logged) if unknown."""
    match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", text, re.DOTALL)
    if match:
        kind, arguments = match.group(1).lower(), match.group(2)
        if arguments is None and kind in _SIMPLE_CONSTRAINTS:
            return _SIMPLE_CONSTRAINTS[kind]
        if arguments is not None:
            check = _constraint_with_arguments(kind, arguments)
            if check is not None:
                return check
    # The real host refuses to start on an unknown constraint; locally we keep serving and say so.
    logger.warning("Route %r: ignoring unknown route constraint %r", template, text)
    return None


@dataclass(frozen=True)
class Parameter:
    """One {parameter} of a route template."""

    name: str
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    catch_all: bool = False
    default: str | None = None

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


@dataclass(frozen=True)
class Segment:
    """One '/'-separated piece of a template: a literal, a single parameter, or literals mixed with parameters."""

    parts: tuple[str | Parameter, ...]
    pattern: re.Pattern[str] | None = None  # only for complex segments

    @property
    def literal(self) -> str | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None

    @property
    def parameter(self) -> Parameter | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], Parameter) else None

    def match_value(self, value: str) -> dict[str, str] | None:
        """The route values this segment takes from one present path segment, or None if it does not fit."""
        literal, parameter = self.literal, self.parameter
        if literal is not None:
            return {} if value.casefold() == literal.casefold() else None
        if parameter is not None:
            return {parameter.name: value} if value != "" and parameter.accepts(value) else None
        found = self.pattern.fullmatch(value) if self.pattern else None
        if found is None:
            return None
        parameters = [part for part in self.parts if isinstance(part, Parameter)]
        if not all(part.accepts(found.group(part.name)) for part in parameters):
            return None
        return {part.name: found.group(part.name) for part in parameters}


def _split_parameter_body(body: str, template: str) -> list[str]:
    """Split "id:int:regex(a:b)?" on ':' outside parentheses."""
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if char == ":" and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    if depth:
        raise RouteTemplateError(f"Route {template!r}: unbalanced parentheses in {{{body}}}")
    return pieces


def parse_parameter(body: str, template: str) -> Parameter:
    """Parse the inside of "{...}": catch-all marker, name, constraints, '?' or '=default'."""
    catch_all = False
    if body.startswith("**"):
        catch_all, body = True, body[2:]
    elif body.startswith("*"):
        catch_all, body = True, body[1:]
    pieces = _split_parameter_body(body, template)
    name, constraint_texts = pieces[0], pieces[1:]
    optional, default = False, None
    # The '?' / '=default' suffix belongs to the last piece (the name when there is no constraint).
    last = constraint_texts[-1] if constraint_texts else name
    depth_free_tail = last.rsplit(")", 1)[-1]
    if "=" in depth_free_tail:
        cut = len(last) - len(depth_free_tail) + depth_free_tail.index("=")
        last, default = last[:cut], last[cut + 1 :]
    elif last.endswith("?"):
        last, optional = last[:-1], True
    if constraint_texts:
        constraint_texts[-1] = last
    else:
        name = last
    if not _PARAMETER_NAME.match(name):
        raise RouteTemplateError(f"Route {template!r}: invalid parameter name {name!r}")
    if catch_all and optional:
        raise RouteTemplateError(f"Route {template!r}: a catch-all parameter cannot be marked optional")
    constraints = tuple(check for text in constraint_texts if (check := build_constraint(text, template)) is not None)
    return Parameter(name=name, constraints=constraints, optional=optional, catch_all=catch_all, default=default)


def _parse_segment(text: str, template: str) -> Segment:
    if text == "":
        raise RouteTemplateError(f"Route {template!r}: empty segment")
    parts: list[str | Parameter] = []
    position = 0
    for match in re.finditer(r"\{([^{}]*)\}", text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(parse_parameter(match.group(1), template))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    if any(isinstance(part, str) and ("{" in part or "}" in part) for part in parts):
        raise RouteTemplateError(f"Route {template!r}: unbalanced braces in segment {text!r}")
    if len(parts) == 1:
        return Segment(parts=tuple(parts))
    parameters = [part for part in parts if isinstance(part, Parameter)]
    if any(part.catch_all or part.optional for part in parameters):
        raise RouteTemplateError(f"Route {template!r}: optional or catch-all parameters must fill a whole segment")
    if any(isinstance(a, Parameter) and isinstance(b, Parameter) for a, b in itertools.pairwise(parts)):
        raise RouteTemplateError(f"Route {template!r}: adjacent parameters need a literal between them")
    # Greedy groups emulate ASP.NET matching complex segments right to left ("{name}.{ext}" on "a.b.c").
    regex = "".join(f"(?P<{part.name}>.+)" if isinstance(part, Parameter) else re.escape(part) for part in parts)
    return Segment(parts=tuple(parts), pattern=re.compile(regex, re.IGNORECASE | re.DOTALL))


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed route template; `match` takes already-decoded path segments."""

    text: str
    segments: tuple[Segment, ...]
    parameter_names: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        stripped = text.strip().lstrip("~").strip("/")
        segments = tuple(_parse_segment(part, text) for part in stripped.split("/")) if stripped else ()
        names: list[str] = []
        for index, segment in enumerate(segments):
            for part in segment.parts:
                if isinstance(part, Parameter):
                    if part.name.lower() in (name.lower() for name in names):
                        raise RouteTemplateError(f"Route {text!r}: parameter {part.name!r} appears twice")
                    names.append(part.name)
                    if part.catch_all and index != len(segments) - 1:
                        raise RouteTemplateError(f"Route {text!r}: a catch-all parameter must be the last segment")
        for index, segment in enumerate(segments):
            if _may_be_absent(segment) and not all(_may_be_absent(later) for later in segments[index + 1 :]):
                raise RouteTemplateError(f"Route {text!r}: an optional parameter may only be followed by optional ones")
        return cls(text=stripped, segments=segments, parameter_names=tuple(names))

    def match(self, path_segments: Sequence[str]) -> dict[str, str] | None:
        """Route values if the decoded path segments match, else None.

        A catch-all captures the remaining segments joined by '/', possibly "" (always present in the result).
        An absent optional parameter is left out unless it has a default value.
        """
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(path_segments[index:])
                if rest and not parameter.accepts(rest):
                    return None
                values[parameter.name] = rest if rest or parameter.default is None else parameter.default
                return values
            if index >= len(path_segments):
                if parameter is None or not _may_be_absent(segment):
                    return None
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                continue
            captured = segment.match_value(path_segments[index])
            if captured is None:
                return None
            values.update(captured)
        if len(path_segments) > len(self.segments):
            return None
        return values


def _may_be_absent(segment: Segment) -> bool:
    parameter = segment.parameter
    return parameter is not None and (parameter.optional or parameter.catch_all or parameter.default is not None)


def join_route(prefix: str, route: str) -> str:
    """host.json routePrefix + function route, as the host joins them ("" prefix means none)."""
    parts = [piece.strip("/") for piece in (prefix, route.strip().lstrip("~")) if piece.strip("/")]
    return "/".join(parts)
