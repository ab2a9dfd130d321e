"""The real-runtime tier's fixtures: the local host and the host stand-in over the real Python worker, side by side.

Both answer with the same settings and the same Table Storage (Azurite), so a difference in their answers is a
difference between the local host and Azure's runtime. Where Python 3.13 is missing the tier fails loudly with
the reason (never a skip that passes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from gateway_env import REPO, table_storage
from parity_http import BODY_LIMIT

from devtools.runtime_tier.environment import RuntimeTierUnavailable
from devtools.runtime_tier.launcher import RuntimeHost, RuntimeHostFailed, start_runtime_host
from sandbox.app import create_app
from sandbox.server import ServerHandle
from sandbox.server import serve_in_thread as serve_sandbox


@pytest.fixture(scope="module")
def portal_configured() -> Iterator[None]:
    """The registration portal switched on (a local https authority) for both hosts, for this module only."""
    from portal_env import start_portal_setup

    from shared import settings

    setup_iterator = start_portal_setup()
    setup = next(setup_iterator)
    saved = {name: os.environ.get(name) for name in setup.settings()}
    os.environ.update(setup.settings())
    settings.reload()
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    settings.reload()
    next(setup_iterator, None)


@pytest.fixture(scope="module")
def runtime_host(portal_configured: None) -> Iterator[RuntimeHost]:
    table_storage()  # REGISTRY_CONNECTION_STRING in the environment the runtime host inherits
    try:
        host = start_runtime_host(REPO, {**os.environ, "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(BODY_LIMIT)})
    except (RuntimeTierUnavailable, RuntimeHostFailed) as error:
        pytest.fail(str(error), pytrace=False)
    yield host
    host.stop()


@pytest.fixture(scope="module")
def local_host(portal_configured: None) -> Iterator[str]:
    """The local host's URL: its own instance on a free port (the answers' URLs come from the public-base
    setting, not the port, so they match the end-to-end suite's instance and the runtime host's)."""
    from local_host.server import serve_in_thread

    handle = serve_in_thread(REPO, host="127.0.0.1", port=0, max_body_bytes=BODY_LIMIT)
    yield f"http://127.0.0.1:{handle.port}"
    handle.stop()


@pytest.fixture(scope="session")
def stu3_provider() -> Iterator[ServerHandle]:
    with serve_sandbox(create_app("STU3", base_path="/fhir")) as handle:
        yield handle
