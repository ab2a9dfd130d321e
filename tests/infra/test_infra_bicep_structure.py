"""The Bicep under infra/ parses, documents every parameter, and exposes what deploy.md relies on."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
PARAM_FILE = INFRA / "main.bicepparam"


@cache
def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def description(element: dict[str, Any]) -> str:
    for decorator in element.get("decorators", []):
        if decorator["type"] == "description":
            return str(decorator["argument"])
    return ""


def test_infra_has_a_main_template_and_modules() -> None:
    assert INFRA / "main.bicep" in BICEP_FILES
    assert len([p for p in BICEP_FILES if p.parent.name == "modules"]) >= 5


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses(path: Path) -> None:
    document = parse(path)
    assert document.get("resources") or document.get("modules"), f"{path.name} declares nothing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_parameter_says_whether_it_is_required(path: Path) -> None:
    for name, param in parse(path).get("parameters", {}).items():
        text = description(param)
        expected = "Optional. " if param.get("default") is not None else "Required. "
        assert text.startswith(expected), f"{path.name}: parameter {name} needs @description('{expected}…')"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_modules_exist_and_receive_only_declared_parameters(path: Path) -> None:
    for name, module in parse(path).get("modules", {}).items():
        target = (path.parent / module["detail"]["path"]).resolve()
        assert target.is_file(), f"{path.name}: module {name} points at missing {module['detail']['path']}"
        declared = parse(target).get("parameters", {})
        config = module["config"]
        given = (config["config"] if "condition" in config else config)["params"]  # `= if (...) {...}` nests it
        assert set(given) <= set(declared), f"{path.name}: module {name} passes unknown {set(given) - set(declared)}"
        missing = {p for p, conf in declared.items() if conf.get("default") is None} - set(given)
        assert not missing, f"{path.name}: module {name} leaves required parameters unset: {missing}"


def test_role_assignments_are_named_with_guid() -> None:
    assignments = [
        (path.name, name, resource)
        for path in BICEP_FILES
        for name, resource in parse(path).get("resources", {}).items()
        if resource["type"] == "Microsoft.Authorization/roleAssignments"
    ]
    assert len(assignments) >= 4
    for file, name, resource in assignments:
        assert resource["config"]["name"]["function"]["type"] == "guid", f"{file}: {name} is not named with guid()"


def test_main_outputs_the_urls_clients_need() -> None:
    outputs = parse(INFRA / "main.bicep")["outputs"]
    assert {"functionAppName", "publicBaseUrl", "metadataUrl", "tokenUrl"} <= set(outputs)
    assert outputs["metadataUrl"]["value"].endswith("/fhir/metadata")
    assert outputs["tokenUrl"]["value"].endswith("/oauth2/token")
    metadata_base = outputs["metadataUrl"]["value"].removesuffix("/fhir/metadata")
    assert metadata_base == outputs["tokenUrl"]["value"].removesuffix("/oauth2/token"), "both URLs share one base"
    assert metadata_base.startswith("${") and metadata_base.endswith(".gatewayBaseUrl}")


def test_parameter_file_uses_main_and_sets_only_its_parameters() -> None:
    text = PARAM_FILE.read_text(encoding="utf-8")
    assert re.search(r"^using '\./main\.bicep'$", text, re.MULTILINE)
    given = set(re.findall(r"^param (\w+) =", text, re.MULTILINE))
    declared = parse(INFRA / "main.bicep")["parameters"]
    assert given <= set(declared), f"main.bicepparam sets unknown parameters {given - set(declared)}"
    required = {name for name, conf in declared.items() if conf.get("default") is None}
    assert required <= given, f"main.bicepparam leaves required parameters unset: {required - given}"


HARDENING = [
    ("storage.bicep", "Microsoft.Storage/storageAccounts", "properties.minimumTlsVersion", "TLS1_2"),
    ("storage.bicep", "Microsoft.Storage/storageAccounts", "properties.supportsHttpsTrafficOnly", True),
    ("storage.bicep", "Microsoft.Storage/storageAccounts", "properties.allowBlobPublicAccess", False),
    ("storage.bicep", "Microsoft.Storage/storageAccounts", "properties.allowSharedKeyAccess", False),
    ("key-vault.bicep", "Microsoft.KeyVault/vaults", "properties.enableRbacAuthorization", True),
    ("key-vault.bicep", "Microsoft.KeyVault/vaults", "properties.enableSoftDelete", True),
    ("key-vault.bicep", "Microsoft.KeyVault/vaults", "properties.enablePurgeProtection", True),
    ("function-app.bicep", "Microsoft.Web/sites", "kind", "functionapp,linux"),
    ("function-app.bicep", "Microsoft.Web/sites", "properties.httpsOnly", True),
    ("function-app.bicep", "Microsoft.Web/sites", "properties.siteConfig.ftpsState", "Disabled"),
    ("function-app.bicep", "Microsoft.Web/sites", "properties.siteConfig.minTlsVersion", "1.2"),
    ("monitoring.bicep", "Microsoft.Insights/components", "properties.DisableLocalAuth", True),
    ("hosting-plan.bicep", "Microsoft.Web/serverfarms", "properties.reserved", True),
]


@pytest.mark.parametrize(("file", "resource_type", "path", "expected"), HARDENING, ids=lambda v: str(v))
def test_resource_is_hardened(file: str, resource_type: str, path: str, expected: Any) -> None:
    resources = parse(INFRA / "modules" / file)["resources"]
    (resource,) = [r for r in resources.values() if r["type"] == resource_type and not r["existing"]]
    value: Any = resource["config"]
    for key in path.split("."):
        value = value[key]
    assert value == expected, f"{file}: {resource_type} {path} is {value!r}, expected {expected!r}"
