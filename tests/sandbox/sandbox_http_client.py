"""A small HTTP client relative to one sandbox server, for the sandbox tests (a module of its own: test files
import it by this unique name, never through `conftest`, whose name every test folder shares)."""

from __future__ import annotations

from typing import Any

import requests

from sandbox import ServerHandle

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
