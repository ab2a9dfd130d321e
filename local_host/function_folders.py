"""Discovery of HTTP function folders under the app root and parsing of their function.json."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_SCRIPT_FILE = "__init__.py"
DEFAULT_ENTRY_POINT = "main"
AUTH_LEVELS = ("anonymous", "function", "admin")
# function.json without authLevel means "function" on the Functions host.
DEFAULT_AUTH_LEVEL = "function"


class FunctionFolderError(ValueError):
    """A function folder whose function.json the Functions host would refuse."""


@dataclass(frozen=True)
class HttpFunction:
    """One HTTP-triggered function folder, as described by its function.json."""

    name: str  # the folder name, which is also the function name and the module imported
    folder: Path
    route: str  # the route template, without the host's route prefix
    methods: frozenset[str] | None  # upper-case; None means every method
    auth_level: str
    trigger_name: str  # the httpTrigger binding's "name": the parameter that receives the request
    script_file: Path
    entry_point: str

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def discover_functions(root: Path) -> list[HttpFunction]:
    """Every direct subfolder of `root` with a function.json holding an httpTrigger in and an http out binding.

    Folders are visited in name order; disabled functions and non-HTTP triggers are skipped (logged).
    """
    functions: list[HttpFunction] = []
    for folder in sorted(path for path in root.iterdir() if path.is_dir()):
        config_path = folder / "function.json"
        if not config_path.is_file():
            continue
        function = parse_function_json(folder, _load_json(config_path))
        if function is not None:
            functions.append(function)
    return functions


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise FunctionFolderError(f"{path}: cannot read function.json: {error}") from error
    if not isinstance(data, dict):
        raise FunctionFolderError(f"{path}: function.json must be a JSON object")
    return data


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def parse_function_json(folder: Path, config: dict[str, Any]) -> HttpFunction | None:
    """The HTTP function a folder declares, or None when it is disabled or not an HTTP function."""
    name = folder.name
    bindings = config.get("bindings")
    if not isinstance(bindings, list):
        raise FunctionFolderError(f"{name}/function.json: 'bindings' must be a list")
    trigger = _find_binding(bindings, "httptrigger", "in")
    output = _find_binding(bindings, "http", "out")
    if trigger is None or output is None:
        logger.info("Skipping %s: not an HTTP function (needs an httpTrigger in and an http out binding)", name)
        return None
    if _is_true(config.get("disabled")):
        logger.info("Skipping %s: disabled in function.json", name)
        return None
    if "." in name:
        raise FunctionFolderError(f"{name}: a function folder name must be importable (no dots)")
    if str(output.get("name") or "$return") != "$return":
        raise FunctionFolderError(f"{name}/function.json: the local host serves only the http out binding '$return'")

    route = trigger.get("route")
    if route is None or (isinstance(route, str) and not route.strip()):
        route = name
    if not isinstance(route, str):
        raise FunctionFolderError(f"{name}/function.json: 'route' must be a string")

    methods_value = trigger.get("methods")
    methods: frozenset[str] | None = None
    if methods_value:
        if not isinstance(methods_value, list) or not all(isinstance(item, str) for item in methods_value):
            raise FunctionFolderError(f"{name}/function.json: 'methods' must be a list of strings")
        methods = frozenset(item.strip().upper() for item in methods_value)

    # Every auth level is served locally without checking keys: Core Tools does the same when running
    # locally, and the keys of the deployed app do not exist here. The level is kept for the route listing.
    auth_level = str(trigger.get("authLevel") or DEFAULT_AUTH_LEVEL).lower()
    if auth_level not in AUTH_LEVELS:
        raise FunctionFolderError(f"{name}/function.json: unknown authLevel {auth_level!r}")

    script_file = config.get("scriptFile") or DEFAULT_SCRIPT_FILE
    entry_point = config.get("entryPoint") or DEFAULT_ENTRY_POINT
    if not isinstance(script_file, str) or not isinstance(entry_point, str):
        raise FunctionFolderError(f"{name}/function.json: 'scriptFile' and 'entryPoint' must be strings")

    return HttpFunction(
        name=name,
        folder=folder,
        route=route.strip(),
        methods=methods,
        auth_level=auth_level,
        trigger_name=str(trigger.get("name") or "req"),
        script_file=(folder / script_file).resolve(),
        entry_point=entry_point,
    )


def _find_binding(bindings: list[Any], binding_type: str, direction: str) -> dict[str, Any] | None:
    for binding in bindings:
        if (
            isinstance(binding, dict)
            and str(binding.get("type", "")).lower() == binding_type
            and str(binding.get("direction", "")).lower() == direction
        ):
            return binding
    return None
