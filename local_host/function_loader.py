"""Importing a function folder's entry point and calling it the way the Python worker does.

The app's functions are `main(req)` returning the response (`shared/functions_adapter.py`); a folder asking for
more (a `context`, other bindings, an async entry point) is refused at startup rather than half served.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from .function_folders import HttpFunction


class FunctionLoadError(RuntimeError):
    """A function folder that cannot be imported or whose entry point does not fit its function.json."""


@dataclass(frozen=True)
class LoadedFunction:
    """A discovered function together with its imported entry point."""

    function: HttpFunction
    module: ModuleType
    entry: Callable[..., Any]

    def invoke(self, request: func.HttpRequest) -> Any:
        """Call the entry point with the request bound by the trigger's name; its return value is the response."""
        return self.entry(**{self.function.trigger_name: request})


def ensure_on_sys_path(root: Path) -> None:
    """Put the app root first on sys.path, so folders import as packages and `shared` imports absolutely."""
    entry = str(root)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def module_name(function: HttpFunction, root: Path) -> str:
    """Dotted module name of the script file relative to the app root ("token_fn", "token_fn.other")."""
    script = function.script_file
    try:
        relative = script.relative_to(root)
    except ValueError:
        raise FunctionLoadError(f"{function.name}: scriptFile {script} is outside the app root {root}") from None
    if script.suffix != ".py":
        raise FunctionLoadError(f"{function.name}: scriptFile {script} is not a .py file")
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or any("." in part or not part for part in parts):
        raise FunctionLoadError(f"{function.name}: scriptFile {relative} does not map to an importable module")
    return ".".join(parts)


def _check_not_shadowed(function: HttpFunction, root: Path, name: str) -> None:
    """Refuse a module of the same name already imported from elsewhere (stdlib, another app root)."""
    top = name.split(".", 1)[0]
    existing = sys.modules.get(top)
    if existing is None:
        return
    # A package is where its __path__ points; a plain module is its file without ".py".
    origins = {Path(entry).resolve() for entry in getattr(existing, "__path__", [])}
    file = getattr(existing, "__file__", None)
    if file and not hasattr(existing, "__path__"):
        origins.add(Path(file).resolve().with_suffix(""))
    if (root / top).resolve() not in origins:
        where = file or sorted(str(origin) for origin in origins) or "a built-in module"
        raise FunctionLoadError(
            f"{function.name}: module name {top!r} is already imported from {where}; "
            "rename the function folder so it does not shadow another module"
        )


def load_function(function: HttpFunction, root: Path) -> LoadedFunction:
    """Import the function's module by its folder name and check the entry point against function.json."""
    root = root.resolve()
    ensure_on_sys_path(root)
    name = module_name(function, root)
    _check_not_shadowed(function, root, name)
    try:
        module = importlib.import_module(name)
    except Exception as error:  # anything the module raises at import time
        raise FunctionLoadError(
            f"{function.name}: importing {name!r} from {function.script_file} failed: {type(error).__name__}: {error}"
        ) from error
    entry = getattr(module, function.entry_point, None)
    if not callable(entry):
        raise FunctionLoadError(
            f"{function.name}: {function.script_file.name} has no callable entry point {function.entry_point!r}"
        )
    _check_signature(function, entry)
    return LoadedFunction(function=function, module=module, entry=entry)


def _check_signature(function: HttpFunction, entry: Callable[..., Any]) -> None:
    """A synchronous entry point taking the request under the trigger's name, and nothing else it needs."""
    if inspect.iscoroutinefunction(entry):
        raise FunctionLoadError(
            f"{function.name}: {function.entry_point}() is async, which the local host does not run"
        )
    parameters = inspect.signature(entry).parameters
    if function.trigger_name not in parameters:
        raise FunctionLoadError(
            f"{function.name}: {function.entry_point}() lacks parameter(s) {[function.trigger_name]} named in "
            "function.json"
        )
    unsupported = sorted(
        parameter.name
        for parameter in parameters.values()
        if parameter.name != function.trigger_name
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )
    if unsupported:
        raise FunctionLoadError(
            f"{function.name}: {function.entry_point}() has parameter(s) {unsupported} (a context or other "
            "bindings), which the local host does not provide"
        )
