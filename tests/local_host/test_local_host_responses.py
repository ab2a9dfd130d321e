"""What the client gets back: the function's status, every header, Content-Type rules, body; HEAD; failures."""

from __future__ import annotations

import logging

import pytest
import requests
from local_host_testing import AppRoot, Serve

CUSTOM_RESPONSE = """
import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse(
        b"\\x00\\x01binary\\xff",
        status_code=201,
        headers={"Location": "/Patient/1/_history/1", "ETag": 'W/"1"', "Cache-Control": "no-store"},
        mimetype="application/octet-stream",
    )
    response.headers.add_header("Set-Cookie", "a=1; Path=/")
    response.headers.add_header("Set-Cookie", "b=2; Path=/")
    return response
"""

TEXT_RESPONSE = """
import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    if req.params.get("explicit"):
        return func.HttpResponse("{}", headers={"Content-Type": "application/fhir+json"})
    return func.HttpResponse("héllo", mimetype="text/html", charset="utf-8")
"""

FAILING = """
import azure.functions as func


def main(req: func.HttpRequest) -> func.HttpResponse:
    secret_detail = "do-not-leak-this"
    raise RuntimeError(f"boom {secret_detail}")
"""


def test_status_headers_and_binary_body_are_sent_as_set(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("custom", CUSTOM_RESPONSE, route="custom")
    host = serve()

    reply = requests.post(f"{host.url}/custom", timeout=5)

    assert reply.status_code == 201
    assert reply.content == b"\x00\x01binary\xff"
    assert reply.headers["Location"] == "/Patient/1/_history/1"
    assert reply.headers["ETag"] == 'W/"1"'
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert reply.headers["Content-Length"] == str(len(reply.content))
    # As Azure's host writes them (ASP.NET Core ResponseCookies): lower-case attributes and an empty domain.
    assert reply.raw.headers.getlist("Set-Cookie") == ["a=1; domain=; path=/", "b=2; domain=; path=/"]


def test_text_mimetype_gets_charset_and_explicit_content_type_wins(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("text", TEXT_RESPONSE, route="text")
    host = serve()

    text = requests.get(f"{host.url}/text", timeout=5)
    explicit = requests.get(f"{host.url}/text?explicit=1", timeout=5)

    assert text.headers["Content-Type"] == "text/html; charset=utf-8"
    assert text.content == "héllo".encode()
    assert explicit.headers["Content-Type"] == "application/fhir+json"


def test_head_gets_headers_without_body(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("custom", CUSTOM_RESPONSE, route="custom", methods=["get", "head"])
    host = serve()

    reply = requests.head(f"{host.url}/custom", timeout=5)

    assert reply.status_code == 201
    assert reply.content == b""
    # As from the Functions host: no Content-Length, and no chunked framing either.
    assert "Content-Length" not in reply.headers and "Transfer-Encoding" not in reply.headers
    assert reply.headers["ETag"] == 'W/"1"'


def test_head_on_a_get_only_function_is_404_like_the_functions_host(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("custom", CUSTOM_RESPONSE, route="custom", methods=["get"])
    host = serve()

    reply = requests.head(f"{host.url}/custom", timeout=5)

    assert reply.status_code == 404
    assert reply.content == b""


def test_exception_is_500_without_details_and_logged_with_traceback(
    app_root: AppRoot, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    name = app_root.add_function("failing", FAILING, route="failing")
    host = serve()

    with caplog.at_level(logging.ERROR, logger="local_host"):
        reply = requests.get(f"{host.url}/failing?token=abc", timeout=5)

    assert reply.status_code == 500
    assert reply.content == b"" and reply.headers["Content-Length"] == "0"  # as the host: status only
    assert "do-not-leak-this" not in reply.text and "Traceback" not in reply.text
    failure = next(record for record in caplog.records if record.name == "local_host.wsgi_app")
    assert name in failure.getMessage() and "token=abc" not in failure.getMessage()
    assert failure.exc_info is not None and "do-not-leak-this" in str(failure.exc_info[1])


def test_access_log_has_method_path_status_duration_but_no_query_or_headers(
    app_root: AppRoot, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app_root.add_function("echo", route="echo")
    host = serve()

    with caplog.at_level(logging.INFO, logger="local_host.access"):
        requests.get(f"{host.url}/echo?code=s3cret", headers={"Authorization": "Bearer t0ken"}, timeout=5)

    lines = [record.getMessage() for record in caplog.records if record.name == "local_host.access"]
    assert len(lines) == 1
    method, path, status, duration = lines[0].split(" ")
    assert (method, path, status) == ("GET", "/echo", "200")
    assert duration.endswith("ms") and float(duration[:-2]) >= 0
    assert "s3cret" not in caplog.text and "t0ken" not in caplog.text


def test_str_and_none_returns_are_answered_like_the_worker(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("text", "def main(req):\n    return 'plain'\n", route="text")
    app_root.add_function("nothing", "def main(req):\n    return None\n", route="nothing")
    host = serve()

    text = requests.get(f"{host.url}/text", timeout=5)
    nothing = requests.get(f"{host.url}/nothing", timeout=5)

    assert (text.status_code, text.text, text.headers["Content-Type"]) == (200, "plain", "text/plain; charset=utf-8")
    assert (nothing.status_code, nothing.content) == (204, b"")


def test_wrong_return_type_and_bad_header_are_500(app_root: AppRoot, serve: Serve) -> None:
    app_root.add_function("wrong", "def main(req):\n    return {'not': 'a response'}\n", route="wrong")
    bad_header = (
        "import azure.functions as func\n\n"
        "def main(req):\n"
        "    return func.HttpResponse('x', headers={'X-Bad': 'a\\r\\nInjected: yes'})\n"
    )
    app_root.add_function("bad_header", bad_header, route="bad-header")
    host = serve()

    assert requests.get(f"{host.url}/wrong", timeout=5).status_code == 500
    reply = requests.get(f"{host.url}/bad-header", timeout=5)
    assert reply.status_code == 500
    assert "Injected" not in reply.headers


def test_trigger_name_binds_the_request_parameter(app_root: AppRoot, serve: Serve) -> None:
    source = """
    import azure.functions as func


    def main(request: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(request.route_params["id"], status_code=202)
    """
    app_root.add_function("named", source, route="named/{id}", trigger={"name": "request"})
    host = serve()

    reply = requests.get(f"{host.url}/named/7", timeout=5)

    assert (reply.status_code, reply.text) == (202, "7")
