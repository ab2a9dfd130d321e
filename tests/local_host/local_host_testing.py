"""Helpers for the local host tests: throwaway app roots with fake function folders."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_host import ServerHandle

Serve = Callable[..., ServerHandle]

# Returns everything the function received as JSON, plus which module answered.
ECHO_SOURCE = """
import base64
import json

import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    payload = {
        "function": __name__,
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body_b64": base64.b64encode(req.get_body()).decode("ascii"),
    }
    return func.HttpResponse(json.dumps(payload), mimetype="application/json")
"""


@dataclass
class AppRoot:
    """An app root in tmp_path; every function folder gets a unique (importable) name."""

    path: Path
    names: list[str] = field(default_factory=list)

    def write_host_json(self, route_prefix: str | None) -> None:
        host: dict[str, Any] = {"version": "2.0"}
        if route_prefix is not None:
            host["extensions"] = {"http": {"routePrefix": route_prefix}}
        (self.path / "host.json").write_text(json.dumps(host), encoding="utf-8")

    def add_function(
        self,
        hint: str,
        source: str = ECHO_SOURCE,
        *,
        route: str | None = None,
        methods: list[str] | None = None,
        trigger: dict[str, Any] | None = None,
        output_name: str = "$return",
        config: dict[str, Any] | None = None,
        script_name: str = "__init__.py",
        extra_files: dict[str, str] | None = None,
    ) -> str:
        """Write a function folder and return its name (hint + unique suffix)."""
        name = f"{hint}_{uuid.uuid4().hex[:8]}"
        folder = self.path / name
        folder.mkdir()
        trigger_binding: dict[str, Any] = {
            "authLevel": "anonymous",
            "type": "httpTrigger",
            "direction": "in",
            "name": "req",
        }
        if route is not None:
            trigger_binding["route"] = route
        if methods is not None:
            trigger_binding["methods"] = methods
        trigger_binding.update(trigger or {})
        function_json: dict[str, Any] = {
            "bindings": [trigger_binding, {"type": "http", "direction": "out", "name": output_name}]
        }
        function_json.update(config or {})
        (folder / "function.json").write_text(json.dumps(function_json), encoding="utf-8")
        if script_name != "__init__.py":
            (folder / "__init__.py").write_text("", encoding="utf-8")
        (folder / script_name).write_text(textwrap.dedent(source), encoding="utf-8")
        for relative, text in (extra_files or {}).items():
            (folder / relative).write_text(textwrap.dedent(text), encoding="utf-8")
        self.names.append(name)
        return name
