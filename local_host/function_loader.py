"""Importing a function folder's entry point and calling it the way the Python worker does."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from .function_folders import HttpFunction


class FunctionLoadError(RuntimeError):
    """A function folder that cannot be imported or whose entry point does not fit its function.json."""


class InvocationContext(func.Context):
    """The `context` argument the Python worker passes to entry points that ask for it."""

    def __init__(self, function: HttpFunction) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function = function
        self._thread_local_storage = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]  # func.Context types it as the worker's own local
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function.name

    @property
    def function_directory(self) -> str:
        return str(self._function.folder)

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class OutValue(func.Out[Any]):
    """The func.Out holder passed when the http out binding is a named parameter instead of "$return"."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


@dataclass(frozen=True)
class LoadedFunction:
    """A discovered function together with its imported entry point."""

    function: HttpFunction
    module: ModuleType
    entry: Callable[..., Any]
    wants_context: bool

    def invoke(self, request: func.HttpRequest) -> Any:
        """Call the entry point with the request bound by name; the http output (return value or Out)."""
        arguments: dict[str, Any] = {self.function.trigger_name: request}
        output: OutValue | None = None
        if self.function.output_name != "$return":
            output = OutValue()
            arguments[self.function.output_name] = output
        if self.wants_context:
            arguments["context"] = InvocationContext(self.function)
        result = self.entry(**arguments)
        if inspect.iscoroutine(result):
            # Each waitress worker thread runs its own short-lived event loop for async entry points.
            result = asyncio.run(result)
        return output.get() if output is not None else result


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
    parameters = inspect.signature(entry).parameters
    expected = {function.trigger_name} | ({function.output_name} - {"$return"})
    missing = sorted(expected - set(parameters))
    if missing:
        raise FunctionLoadError(
            f"{function.name}: {function.entry_point}() lacks parameter(s) {missing} named in function.json"
        )
    unsupported = sorted(
        parameter.name
        for parameter in parameters.values()
        if parameter.name not in expected | {"context"}
        and parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )
    if unsupported:
        raise FunctionLoadError(
            f"{function.name}: {function.entry_point}() has parameter(s) {unsupported} bound to other bindings, "
            "which the local host does not provide"
        )
    return LoadedFunction(function=function, module=module, entry=entry, wants_context="context" in parameters)
