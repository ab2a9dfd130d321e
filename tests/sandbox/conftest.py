"""Fixtures for the sandbox FHIR server tests: servers on 127.0.0.1 and a small HTTP client."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sandbox_http_client import Client  # noqa: E402  - after the sys.path set-up

from sandbox import ServerHandle, create_app, serve_in_thread  # noqa: E402  - after the sys.path set-up


@pytest.fixture(scope="session")
def stu3() -> Iterator[Client]:
    """A shared STU3 sandbox at /fhir (defaults). Do not use for request-log or fault tests."""
    handle = serve_in_thread(create_app("STU3"))
    yield Client(handle)
    handle.stop()


@pytest.fixture(scope="session")
def dstu2() -> Iterator[Client]:
    """A shared DSTU2 sandbox at /baseDstu2."""
    handle = serve_in_thread(create_app("DSTU2", base_path="/baseDstu2"))
    yield Client(handle)
    handle.stop()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Client]]:
    """Start a sandbox with create_app(**options) for one test; stopped afterwards."""
    handles: list[ServerHandle] = []

    def make(**options: Any) -> Client:
        handle = serve_in_thread(create_app(**options))
        handles.append(handle)
        return Client(handle)

    yield make
    for handle in handles:
        handle.stop()
