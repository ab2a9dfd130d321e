"""Fixtures for the sandbox FHIR server tests: servers on 127.0.0.1 and a small HTTP client."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sandbox import ServerHandle, create_app, serve_in_thread  # noqa: E402  - after the sys.path set-up

TIMEOUT = 15


class Client:
    """requests with a timeout, relative to one sandbox server."""

    def __init__(self, handle: ServerHandle) -> None:
        self.handle = handle
        self.base = handle.base_url
        self.session = requests.Session()

    def url(self, rel: str) -> str:
        return rel if rel.startswith("http") else f"{self.base}/{rel.lstrip('/')}" if rel else self.base

    def get(self, rel: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url(rel), timeout=TIMEOUT, **kw)

    def post(self, rel: str, **kw: Any) -> requests.Response:
        return self.session.post(self.url(rel), timeout=TIMEOUT, **kw)

    def request(self, method: str, rel: str, **kw: Any) -> requests.Response:
        return self.session.request(method, self.url(rel), timeout=TIMEOUT, **kw)

    def control(self, method: str, what: str, **kw: Any) -> requests.Response:
        return self.session.request(method, f"{self.handle.control_url}/{what}", timeout=TIMEOUT, **kw)

    def search(self, rtype: str, **params: Any) -> dict[str, Any]:
        response = self.get(rtype, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, bundle: dict[str, Any]) -> list[str]:
        return [e["resource"]["id"] for e in bundle.get("entry", [])]


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
