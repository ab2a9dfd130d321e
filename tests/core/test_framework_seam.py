"""The core does not know the web framework: one adapter module imports azure.functions, function folders are thin."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import azure.functions as func

from shared.functions_adapter import http_function, to_http_response, to_request
from shared.http_messages import Request, Response

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = ROOT / "shared" / "functions_adapter.py"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _imports_azure_functions(path: Path) -> bool:
    return any(name == "azure.functions" or name.startswith("azure.functions.") for name in _imported_modules(path))


def test_only_the_adapter_module_under_shared_imports_azure_functions() -> None:
    importers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "shared").rglob("*.py") if _imports_azure_functions(p))
    assert importers == ["shared/functions_adapter.py"]


def test_the_scan_sees_each_way_of_importing_azure_functions(tmp_path: Path) -> None:
    for source in (
        "import azure.functions as func\n",
        "from azure import functions\n",
        "from azure.functions import HttpResponse\n",
        "def f():\n    import azure.functions\n",
    ):
        module = tmp_path / "m.py"
        module.write_text(source)
        assert _imports_azure_functions(module), source
    (tmp_path / "m.py").write_text("from shared.http_messages import Response\n")
    assert not _imports_azure_functions(tmp_path / "m.py")


def test_every_function_folder_is_main_made_by_the_adapter() -> None:
    folders = sorted(ROOT.glob("*_fn/__init__.py"))
    assert folders
    for init in folders:
        tree = ast.parse(init.read_text())
        assignments = [n for n in tree.body if isinstance(n, ast.Assign)]
        assert not any(isinstance(n, ast.FunctionDef | ast.ClassDef) for n in tree.body), init
        assert len(assignments) == 1 and ast.unparse(assignments[0].targets[0]) == "main", init
        call = assignments[0].value
        assert isinstance(call, ast.Call) and ast.unparse(call.func) == "http_function", init
        assert not _imports_azure_functions(init), init


def test_the_adapter_converts_the_request_with_headers_found_in_any_case() -> None:
    req = func.HttpRequest(
        method="POST",
        url="https://gw.example.test/fhir/Patient?a=%2F",
        body=b"x=1",
        headers={"Content-Type": "text/plain", "X-Thing": "v"},
        params={"a": "/"},
        route_params={"path": "Patient"},
    )
    request = to_request(req)
    assert (request.method, request.url, request.body) == ("POST", "https://gw.example.test/fhir/Patient?a=%2F", b"x=1")
    assert request.headers["content-type"] == request.headers.get("Content-Type") == "text/plain"
    assert "X-THING" in request.headers and "missing" not in request.headers
    assert dict(request.query) == {"a": "/"} and dict(request.route_params) == {"path": "Patient"}


def test_the_adapter_keeps_status_media_type_charset_and_repeated_headers() -> None:
    answer = to_http_response(
        Response(
            201, b'{"a":1}', "application/fhir+json", (("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("ETag", 'W/"1"'))
        )
    )
    assert (answer.status_code, answer.mimetype, answer.charset) == (201, "application/fhir+json", "utf-8")
    assert json.loads(answer.get_body()) == {"a": 1}
    assert answer.headers.get_all("Set-Cookie") == ["a=1", "b=2"] and answer.headers["ETag"] == 'W/"1"'


def test_http_function_hands_the_plain_request_to_the_handler() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(418, b"teapot")

    main = http_function(handler)
    answer = main(func.HttpRequest(method="GET", url="https://gw.example.test/x", body=b""))
    assert answer.status_code == 418 and answer.get_body() == b"teapot" and answer.mimetype == "text/plain"
    assert seen[0].method == "GET" and seen[0].body == b""


def test_a_response_names_its_content_type_with_its_charset() -> None:
    response = Response(200, b"", "text/css", (("Cache-Control", "no-store"),))
    assert response.header("Content-Type") == "text/css; charset=utf-8"
    assert response.header("cache-control") == "no-store" and response.header("Location") is None
