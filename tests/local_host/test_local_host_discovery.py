"""Which folders are served and how: function.json defaults, scriptFile/entryPoint, fail-fast imports."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from local_host_testing import AppRoot, Serve

from local_host import FunctionFolderError, FunctionLoadError, FunctionsApp, RouteTemplateError, discover_functions


def test_function_json_defaults(app_root: AppRoot) -> None:
    name = app_root.add_function("plain", trigger={"authLevel": None})

    (function,) = discover_functions(app_root.path)

    assert function.name == name
    assert function.route == name
    assert function.methods is None
    assert function.auth_level == "function"
    assert function.entry_point == "main"
    assert function.script_file == (app_root.path / name / "__init__.py").resolve()


def test_every_auth_level_is_served_without_keys(app_root: AppRoot, serve: Serve) -> None:
    for level in ("anonymous", "function", "admin"):
        app_root.add_function(level, route=level, trigger={"authLevel": level})
    host = serve()

    for level in ("anonymous", "function", "admin"):
        assert requests.get(f"{host.url}/{level}", timeout=5).status_code == 200


def test_disabled_non_http_and_plain_folders_are_not_served(app_root: AppRoot) -> None:
    served = app_root.add_function("served")
    app_root.add_function("off", config={"disabled": True})
    app_root.add_function("off_text", config={"disabled": "true"})
    timer = app_root.path / f"timer_{uuid.uuid4().hex[:8]}"
    timer.mkdir()
    (timer / "function.json").write_text(
        json.dumps({"bindings": [{"type": "timerTrigger", "direction": "in", "name": "t", "schedule": "0 * * * * *"}]})
    )
    (app_root.path / "helpers").mkdir()
    (app_root.path / "helpers" / "__init__.py").write_text("")

    assert [function.name for function in discover_functions(app_root.path)] == [served]


def test_script_file_and_entry_point_are_honoured(app_root: AppRoot, serve: Serve) -> None:
    source = """
    import azure.functions as func

    from .texts import GREETING


    def handle(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(GREETING)
    """
    app_root.add_function(
        "custom_entry",
        source,
        route="hello",
        script_name="handler.py",
        config={"scriptFile": "handler.py", "entryPoint": "handle"},
        extra_files={"texts.py": "GREETING = 'hello from handler.py'\n"},
    )
    host = serve()

    assert requests.get(f"{host.url}/hello", timeout=5).text == "hello from handler.py"


def test_function_imports_sibling_packages_absolutely(app_root: AppRoot, serve: Serve) -> None:
    helper = f"helper_{uuid.uuid4().hex[:8]}"
    (app_root.path / helper).mkdir()
    (app_root.path / helper / "__init__.py").write_text("")
    (app_root.path / helper / "answers.py").write_text("ANSWER = 'from the shared package'\n")
    source = f"""
    import azure.functions as func

    from {helper}.answers import ANSWER


    def main(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(ANSWER)
    """
    app_root.add_function("uses_shared", source, route="shared")
    host = serve()

    assert requests.get(f"{host.url}/shared", timeout=5).text == "from the shared package"


def test_import_error_fails_at_startup_naming_the_folder(app_root: AppRoot) -> None:
    name = app_root.add_function("broken", "import module_that_does_not_exist_anywhere\n")

    with pytest.raises(FunctionLoadError, match=name) as raised:
        FunctionsApp(app_root.path)

    assert "ModuleNotFoundError" in str(raised.value)


def test_missing_entry_point_or_parameter_fails_at_startup(app_root: AppRoot) -> None:
    name = app_root.add_function("no_main", "def other(req):\n    return None\n")
    with pytest.raises(FunctionLoadError, match=rf"{name}.*no callable entry point 'main'"):
        FunctionsApp(app_root.path)


def test_entry_point_parameter_must_match_the_binding_name(app_root: AppRoot) -> None:
    name = app_root.add_function("wrong_name", "def main(request):\n    return None\n")
    with pytest.raises(FunctionLoadError, match=rf"{name}.*lacks parameter"):
        FunctionsApp(app_root.path)


def test_folder_shadowing_an_imported_module_is_refused(app_root: AppRoot) -> None:
    folder = app_root.path / "json"
    folder.mkdir()
    (folder / "function.json").write_text(
        json.dumps(
            {
                "bindings": [
                    {"type": "httpTrigger", "direction": "in", "name": "req"},
                    {"type": "http", "direction": "out", "name": "$return"},
                ]
            }
        )
    )
    (folder / "__init__.py").write_text("def main(req):\n    return None\n")

    with pytest.raises(FunctionLoadError, match=r"json.*already imported"):
        FunctionsApp(app_root.path)


def test_unreadable_function_json_names_the_folder(app_root: AppRoot) -> None:
    name = app_root.add_function("bad_json")
    (app_root.path / name / "function.json").write_text("{ not json")

    with pytest.raises(FunctionFolderError, match=name):
        FunctionsApp(app_root.path)


def test_invalid_route_template_fails_at_startup(app_root: AppRoot) -> None:
    app_root.add_function("bad_route", route="fhir/{*path}/more")

    with pytest.raises(RouteTemplateError, match="catch-all"):
        FunctionsApp(app_root.path)


@pytest.mark.parametrize(
    ("source", "output_name", "refusal"),
    [
        ("async def main(req):\n    return None\n", "$return", "is async"),
        ("def main(req, context):\n    return None\n", "$return", r"\['context'\]"),
        ("def main(req, response):\n    return None\n", "response", "only the http out binding '\\$return'"),
    ],
    ids=["async", "context", "named-out-binding"],
)
def test_entry_points_the_app_never_has_are_refused_at_startup(
    app_root: AppRoot, source: str, output_name: str, refusal: str
) -> None:
    name = app_root.add_function("unsupported", source, output_name=output_name)

    with pytest.raises((FunctionLoadError, FunctionFolderError), match=rf"{name}.*{refusal}"):
        FunctionsApp(app_root.path)
