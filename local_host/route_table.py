"""The routes of all served functions in the Functions host's order, and resolving a request to one of them.

The host registers HTTP routes in the order of the function names (case-insensitive) and takes the first
template that matches, the method included: it does not rank routes by specificity. A catch-all in a function
whose name sorts early therefore takes every path under it, even where a later function has a literal route.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .function_loader import LoadedFunction
from .route_template import RouteTemplate, join_route

ALL_METHODS = "*"


@dataclass(frozen=True)
class Route:
    """One served function under its full template (route prefix included)."""

    template: RouteTemplate
    target: LoadedFunction

    @property
    def path(self) -> str:
        return "/" + self.template.text

    @property
    def methods_label(self) -> str:
        methods = self.target.function.methods
        return ",".join(sorted(methods)) if methods is not None else ALL_METHODS

    def describe(self) -> str:
        """ "GET,POST /oauth2/token -> token_fn" ('*' when every method is accepted)."""
        return f"{self.methods_label} {self.path} -> {self.target.function.name}"


class RouteTable:
    """Routes in function-name order (case-insensitive), independent of discovery order."""

    def __init__(self, targets: Iterable[LoadedFunction], route_prefix: str) -> None:
        ordered = sorted(targets, key=lambda target: (target.function.name.casefold(), target.function.name))
        self.routes: tuple[Route, ...] = tuple(
            Route(RouteTemplate.parse(join_route(route_prefix, target.function.route)), target) for target in ordered
        )

    def resolve(self, segments: Sequence[str], method: str) -> tuple[Route, dict[str, str]] | None:
        """The first route, in function-name order, whose template matches the path and whose function takes the
        method, with the route's values; None when there is none.

        As on the Functions host the method is part of the match: a route whose template fits but whose
        methods do not is passed over, and a later route may still take the request.
        """
        for route in self.routes:
            values = route.template.match(segments)
            if values is not None and route.target.function.allows(method):
                return route, values
        return None
