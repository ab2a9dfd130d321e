"""Set-Cookie as Azure's Functions host writes it: value through Uri.EscapeDataString, lower-case attributes."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
import requests
from local_host_testing import AppRoot, Serve

from local_host.host_cookies import CookieConversionError, escape_data_string, set_cookie_lines

COOKIES = """
import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("ok")
    response.headers.add_header(
        "Set-Cookie", "__Host-s=gAAAAB-x_y==; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    response.headers.add_header("Set-Cookie", "plain=a/b+c:d; expires=Sun, 06 Dec 2026 16:00:00 GMT; SameSite=None")
    return response
"""


def test_cookies_go_out_escaped_with_the_hosts_attribute_spelling(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("cookies", COOKIES, route="cookies")
    host = serve()

    reply = requests.get(f"{host.url}/cookies", timeout=5)

    assert reply.raw.headers.getlist("Set-Cookie") == [
        "__Host-s=gAAAAB-x_y%3D%3D; max-age=600; domain=; path=/; secure; samesite=lax; httponly",
        "plain=a%2Fb%2Bc%3Ad; expires=Sun, 06 Dec 2026 16:00:00 GMT; domain=; path=; samesite=none",
    ]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("AZaz09-_.~", "AZaz09-_.~"),
        ("a=b+c/d", "a%3Db%2Bc%2Fd"),
        ("é ;,", "%C3%A9%20%3B%2C"),
        ("%3D", "%253D"),
    ],
)
def test_escape_data_string_leaves_only_unreserved_characters(value: str, escaped: str) -> None:
    assert escape_data_string(value) == escaped


def test_max_age_is_truncated_to_whole_seconds_and_samesite_strict_kept() -> None:
    cookie = SimpleCookie()
    cookie["k"] = "v"
    cookie["k"]["max-age"] = "59.9"
    cookie["k"]["samesite"] = "Strict"
    cookie["k"]["domain"] = "example.org"
    assert set_cookie_lines([cookie]) == ["k=v; max-age=59; domain=example.org; path=; samesite=strict"]


def test_a_cookie_the_worker_cannot_convert_fails_the_invocation() -> None:
    cookie = SimpleCookie()
    cookie["k"] = "v"
    cookie["k"]["expires"] = "not a date"
    with pytest.raises(CookieConversionError):
        set_cookie_lines([cookie])
