"""A function that raises: the host answers 500 with an empty body, and the local host is compared with it.

Runs both hosts on a throwaway app root holding one function folder whose `main` raises (no gateway code), so the
failure path of the real worker (InvocationResponse with a Failure status) is exercised end to end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from expected_differences import EXPECTED_DIFFERENCES
from parity_http import Case, send

from devtools.runtime_tier.environment import RuntimeTierUnavailable
from devtools.runtime_tier.launcher import RuntimeHost, RuntimeHostFailed, start_runtime_host

FUNCTION_JSON = {
    "scriptFile": "__init__.py",
    "bindings": [
        {
            "authLevel": "anonymous",
            "type": "httpTrigger",
            "direction": "in",
            "name": "req",
            "methods": ["get"],
            "route": "boom",
        },
        {"type": "http", "direction": "out", "name": "$return"},
    ],
}
SOURCE = '''"""A function that always fails."""


def main(req):
    raise RuntimeError("this function always fails")
'''


@pytest.fixture(scope="module")
def raising_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raising-app")
    (root / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}))
    folder = root / "boom_fn"
    folder.mkdir()
    (folder / "function.json").write_text(json.dumps(FUNCTION_JSON))
    (folder / "__init__.py").write_text(SOURCE)
    return root


@pytest.fixture(scope="module")
def both_hosts(raising_app: Path) -> Iterator[tuple[str, RuntimeHost]]:
    from local_host.server import serve_in_thread

    try:
        runtime = start_runtime_host(raising_app, dict(os.environ))
    except (RuntimeTierUnavailable, RuntimeHostFailed) as error:
        pytest.fail(str(error), pytrace=False)
    local = serve_in_thread(raising_app, host="127.0.0.1", port=0)
    yield f"http://127.0.0.1:{local.port}", runtime
    local.stop()
    runtime.stop()


def test_a_raising_function_is_an_empty_500_on_the_real_runtime(both_hosts: tuple[str, RuntimeHost]) -> None:
    local_url, runtime = both_hosts
    assert runtime.loaded_functions == 1
    case = Case("function-raises", "GET", "/boom", 500)
    real = send(runtime.url, case, "127.0.0.1")
    assert (real.status, real.body) == (500, b"")
    assert b"always fails" not in real.body
    local = send(local_url, case, "127.0.0.1").aspects((), "GET")
    theirs = real.aspects((), "GET")
    differing = sorted(a for a in set(local) | set(theirs) if local.get(a) != theirs.get(a))
    unexpected = [a for a in differing if (case.id, a) not in EXPECTED_DIFFERENCES]
    stale = [a for (cid, a) in EXPECTED_DIFFERENCES if cid == case.id and a not in differing]
    assert not unexpected, {a: (local.get(a), theirs.get(a)) for a in unexpected}
    assert not stale, f"no longer differs; remove these from expected_differences.py: {stale}"
