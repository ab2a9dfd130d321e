"""Route templates as the Functions host (ASP.NET Core routing) understands them, for the forms the app uses.

The app's `function.json` routes are literal segments, `{name}`, an optional `{name?}` and a trailing catch-all
`{*path}`; these parse and match as on the host. Constraints (`{id:int}`), defaults (`{id=1}`) and segments mixing
literals and parameters (`{name}.{ext}`) are refused at startup instead of being imitated: no function uses them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_PARAMETER = re.compile(r"\{(\*{0,2})([A-Za-z_][A-Za-z0-9_]*)(\??)\}")


class RouteTemplateError(ValueError):
    """A route template the Functions host would refuse, or one in a form the local host does not serve."""


@dataclass(frozen=True)
class Parameter:
    """One `{parameter}` filling a whole segment."""

    name: str
    optional: bool = False
    catch_all: bool = False


Segment = str | Parameter  # a literal, matched case-insensitively, or a parameter


def _parse_segment(text: str, template: str) -> Segment:
    if text == "":
        raise RouteTemplateError(f"Route {template!r}: empty segment")
    if "{" not in text and "}" not in text:
        return text
    found = _PARAMETER.fullmatch(text)
    if found is None:
        raise RouteTemplateError(
            f"Route {template!r}: segment {text!r} is not a literal, {{name}}, {{name?}} or {{*name}} (constraints, "
            "defaults and mixed segments are not served locally)"
        )
    stars, name, question = found.groups()
    if stars and question:
        raise RouteTemplateError(f"Route {template!r}: a catch-all parameter cannot be marked optional")
    return Parameter(name=name, optional=bool(question), catch_all=bool(stars))


def _may_be_absent(segment: Segment) -> bool:
    return isinstance(segment, Parameter) and (segment.optional or segment.catch_all)


@dataclass(frozen=True)
class RouteTemplate:
    """A parsed route template; `match` takes already-decoded path segments."""

    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        stripped = text.strip().lstrip("~").strip("/")
        segments = tuple(_parse_segment(part, text) for part in stripped.split("/")) if stripped else ()
        names = [segment.name.lower() for segment in segments if isinstance(segment, Parameter)]
        if len(names) != len(set(names)):
            raise RouteTemplateError(f"Route {text!r}: a parameter appears twice")
        for index, segment in enumerate(segments):
            if isinstance(segment, Parameter) and segment.catch_all and index != len(segments) - 1:
                raise RouteTemplateError(f"Route {text!r}: a catch-all parameter must be the last segment")
            if _may_be_absent(segment) and not all(_may_be_absent(later) for later in segments[index + 1 :]):
                raise RouteTemplateError(f"Route {text!r}: an optional parameter may only be followed by optional ones")
        return cls(text=stripped, segments=segments)

    def match(self, path_segments: Sequence[str]) -> dict[str, str] | None:
        """Route values if the decoded path segments match, else None.

        A catch-all captures the remaining segments joined by '/', possibly "" (always present in the result).
        An absent optional parameter is left out.
        """
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if isinstance(segment, Parameter) and segment.catch_all:
                values[segment.name] = "/".join(path_segments[index:])
                return values
            if index >= len(path_segments):
                if not _may_be_absent(segment):
                    return None
                continue
            value = path_segments[index]
            if isinstance(segment, Parameter):
                if value == "":
                    return None
                values[segment.name] = value
            elif value.casefold() != segment.casefold():
                return None
        if len(path_segments) > len(self.segments):
            return None
        return values


def join_route(prefix: str, route: str) -> str:
    """host.json routePrefix + function route, as the host joins them ("" prefix means none)."""
    parts = [piece.strip("/") for piece in (prefix, route.strip().lstrip("~")) if piece.strip("/")]
    return "/".join(parts)
