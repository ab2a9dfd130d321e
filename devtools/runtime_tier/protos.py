"""The host <-> worker gRPC messages (FunctionRpc.proto), as generated and shipped by the worker library's wheel.

azure-functions-runtime-v1 ships its generated FunctionRpc messages under a top-level `tests/protos` package;
the tier loads that directory under a private name, so the host stand-in and the worker speak exactly the
protocol revision the worker library was built against (and the repository's own `tests/` never shadows it).
Runs only in the tier's Python 3.13 environment.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import distribution
from pathlib import Path
from types import ModuleType

_NAME = "_functions_rpc_protos"


def load() -> ModuleType:
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    init = Path(str(distribution("azure-functions-runtime-v1").locate_file("tests/protos/__init__.py")))
    if not init.is_file():
        raise RuntimeError(f"azure-functions-runtime-v1 no longer ships its gRPC messages at {init}")
    spec = importlib.util.spec_from_file_location(_NAME, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module
