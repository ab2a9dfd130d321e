"""The portal's function folder: one catch-all route under portal/ that no other function's route overlaps,
so the Functions host's first-match rule in function-name order cannot send a portal request elsewhere."""

from __future__ import annotations

from gateway_env import REPO

from local_host.function_folders import discover_functions


def test_the_portal_owns_the_portal_prefix_alone() -> None:
    functions = {f.name: f for f in discover_functions(REPO)}
    portal = functions["portal_fn"]
    assert portal.route == "portal/{*path}"
    assert sorted(m.upper() for m in portal.methods or ()) == ["GET", "POST"]
    others = [f.route for name, f in functions.items() if name != "portal_fn"]
    assert not [route for route in others if route.split("/", 1)[0].lower().startswith(("portal", "{"))]
