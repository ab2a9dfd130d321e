"""Helpers the test suites share: building function requests and reading their responses."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus, urlencode

import azure.functions as func

FORM = "application/x-www-form-urlencoded"


def function_request(
    method: str = "GET",
    url: str = "https://gateway.example.test/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    route_params: dict[str, str] | None = None,
) -> func.HttpRequest:
    return func.HttpRequest(
        method=method, url=url, headers=headers or {}, params=params or {}, route_params=route_params or {}, body=body
    )


def token_request(
    form: dict[str, str] | list[tuple[str, str]], headers: dict[str, str] | None = None, content_type: str | None = FORM
) -> func.HttpRequest:
    all_headers = dict(headers or {})
    if content_type:
        all_headers["Content-Type"] = content_type
    return function_request("POST", "https://gateway.example.test/oauth2/token", urlencode(form).encode(), all_headers)


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def json_body(response: func.HttpResponse) -> Any:
    return json.loads(response.get_body())


# Types of the conftest factories, for annotating tests.
if True:  # kept at the end: these names import the gateway's registry
    from collections.abc import Callable

    from shared.registry import clients, tenants

    MakeTenant = Callable[..., tenants.Tenant]
    MakeClient = Callable[..., clients.IssuedSecret]
    Onboarded = tuple[tenants.Tenant, clients.IssuedSecret]
