"""The Functions host's HTTP routing, re-created for the tier from the host's documented rules.

Function folders are read from their function.json (as the host's default metadata indexing does). Routes are
tried in function-name order, case-insensitively (the host registers them that way), and the first template
that matches the path *and* lists the method wins; nothing matching is a 404 with an empty body. Template
segments: literals (case-insensitive), `{name}`, `{name?}` (last segment only) and `{*name}` (the rest).
Written separately from local_host/ on purpose: the tier compares the two.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

_PARAMETER = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(\?)?(?::[^}]*)?\}$")


@dataclass(frozen=True)
class FunctionFolder:
    name: str
    directory: Path
    script_file: Path
    entry_point: str
    bindings: list[dict[str, Any]]
    route: str
    methods: frozenset[str] | None  # None: every method

    @property
    def trigger_name(self) -> str:
        return next(str(b["name"]) for b in self.bindings if str(b.get("type", "")).lower() == "httptrigger")


def read_function_folders(root: Path) -> list[FunctionFolder]:
    """Every enabled HTTP function folder under `root`, in the host's registration order."""
    folders = []
    for directory in root.iterdir():
        config_path = directory / "function.json"
        if not directory.is_dir() or not config_path.is_file():
            continue
        config = json.loads(config_path.read_text(encoding="utf-8-sig"))
        if config.get("disabled") in (True, "true"):
            continue
        bindings = list(config.get("bindings", []))
        trigger = next((b for b in bindings if str(b.get("type", "")).lower() == "httptrigger"), None)
        if trigger is None:
            continue
        methods = trigger.get("methods")
        folders.append(
            FunctionFolder(
                name=directory.name,
                directory=directory,
                script_file=directory / config.get("scriptFile", "__init__.py"),
                entry_point=str(config.get("entryPoint", "")),
                bindings=bindings,
                route=str(trigger.get("route") or directory.name),
                methods=frozenset(m.upper() for m in methods) if methods else None,
            )
        )
    return sorted(folders, key=lambda f: f.name.casefold())


def route_prefix(root: Path) -> str:
    host_json = root / "host.json"
    config = json.loads(host_json.read_text(encoding="utf-8-sig")) if host_json.is_file() else {}
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


def _decoded(segment: str) -> str:
    # Kestrel decodes the path but keeps %2F escaped, so a decoded '/' never splits a segment.
    return unquote(segment.replace("%2F", "%252F").replace("%2f", "%252f"))


def match(template: str, raw_path: str) -> dict[str, str] | None:
    """The route values when `raw_path` (as sent, without the query) matches `template`, else None."""
    parts = [p for p in raw_path.split("/") if p != ""]
    values: dict[str, str] = {}
    segments = [s for s in template.split("/") if s != ""]
    for index, segment in enumerate(segments):
        parameter = _PARAMETER.match(segment)
        if parameter and parameter.group(1):  # {*rest}
            rest = "/".join(_decoded(p) for p in parts[index:])
            if rest:  # an empty catch-all is a null route value, which the host leaves out of params
                values[parameter.group(2)] = rest
            return values
        if index >= len(parts):
            if parameter and parameter.group(3) and index == len(segments) - 1:
                return values
            return None
        if parameter:
            values[parameter.group(2)] = _decoded(parts[index])
        elif _decoded(parts[index]).casefold() != segment.casefold():
            return None
    return values if len(parts) == len(segments) else None


def resolve(
    folders: list[FunctionFolder], prefix: str, raw_path: str, method: str
) -> tuple[FunctionFolder, dict[str, str]] | None:
    for folder in folders:
        template = f"{prefix}/{folder.route}" if prefix else folder.route
        values = match(template, raw_path)
        if values is not None and (folder.methods is None or method.upper() in folder.methods):
            return folder, values
    return None
