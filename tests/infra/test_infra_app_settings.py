"""The Function App's app settings in the Bicep follow the gateway's settings catalogue (shared/settings.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from shared.settings import SETTINGS, Setting

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
DEPLOY_GUIDE = REPO_ROOT / "docs" / "deploy.md"

# Names read by the Functions host, the Python worker, azure-identity or the Kudu remote build, not by gateway code.
RUNTIME_SETTING_NAMES = frozenset(
    {
        "FUNCTIONS_EXTENSION_VERSION",
        "FUNCTIONS_WORKER_RUNTIME",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "AZURE_CLIENT_ID",
        "SCM_DO_BUILD_DURING_DEPLOYMENT",
        "ENABLE_ORYX_BUILD",
        "BUILD_FLAGS",
        "XDG_CACHE_HOME",
        "PYTHON_THREADPOOL_THREAD_COUNT",
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
    }
)
RUNTIME_SETTING_PREFIXES = ("AzureWebJobsStorage__", "WEBSITE_")
UPSTREAM_SECRET_NAMES_PARAM = "upstreamSecretNames"
# Parentheses may appear inside Bicep interpolations such as ${toLower(...)}.
KEY_VAULT_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\((?:SecretUri=https://\S+|VaultName=[^;\n]+;SecretName=[^;\n]+)\)$"
)


@dataclass(frozen=True)
class AppSetting:
    """One app setting as the Bicep declares it."""

    name: str | None  # None when the name comes from a loop item
    value: Any
    file: Path
    conditional: bool = False
    loop_array: str | None = None  # the array a loop-built setting iterates over
    loop_item: str | None = None


def is_key_vault_reference(value: Any) -> bool:
    return isinstance(value, str) and bool(KEY_VAULT_REFERENCE.match(value))


@cache
def parsed_bicep() -> dict[Path, dict[str, Any]]:
    parser = BicepParser()
    return {path: parser.parse(file_path=path) for path in sorted(INFRA.rglob("*.bicep"))}


def _expand(
    node: Any, variables: dict[str, Any], file: Path, conditional: bool, seen: frozenset[str]
) -> list[AppSetting]:
    """Name/value pairs an appSettings expression can produce: arrays, concat(), a ? b : c, variables, loops."""
    if isinstance(node, str):
        if node in variables and node not in seen:
            return _expand(variables[node]["value"], variables, file, conditional, seen | {node})
        raise AssertionError(f"{file.name}: cannot follow app settings expression {node!r}")
    if isinstance(node, list):
        settings: list[AppSetting] = []
        for item in node:
            if isinstance(item, dict) and "name" in item and "value" in item:
                settings.append(AppSetting(name=item["name"], value=item["value"], file=file, conditional=conditional))
            else:
                settings.extend(_expand(item, variables, file, conditional, seen))
        return settings
    if isinstance(node, dict) and "loop_type" in node:
        detail = node["loop_type"]["detail"]
        item = node["config"]
        dynamic = item["name"] == detail["item_name"]
        return [
            AppSetting(
                name=None if dynamic else item["name"],
                value=item["value"],
                file=file,
                conditional=True,  # an empty array produces nothing
                loop_array=detail["array_name"],
                loop_item=detail["item_name"],
            )
        ]
    if isinstance(node, dict) and node.get("function", {}).get("type") == "concat":
        settings = []
        for argument in node["function"]["parameters"].values():
            settings.extend(_expand(argument, variables, file, conditional, seen))
        return settings
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "conditional":
        operands = node["operator"]["operands"]
        return _expand(operands["true_value"], variables, file, True, seen) + _expand(
            operands["false_value"], variables, file, True, seen
        )
    raise AssertionError(f"{file.name}: unsupported app settings expression {node!r}")


@cache
def function_app_settings() -> tuple[AppSetting, ...]:
    """Every app setting of every Function App declared under infra/ (siteConfig.appSettings or config/appsettings)."""
    settings: list[AppSetting] = []
    sites = 0
    for path, document in parsed_bicep().items():
        variables = document.get("variables", {})
        for resource in document.get("resources", {}).values():
            if resource["existing"]:
                continue
            config = resource["config"]
            if resource["type"] == "Microsoft.Web/sites":
                sites += 1
                site_config = config.get("properties", {}).get("siteConfig", {})
                if "appSettings" in site_config:
                    settings.extend(_expand(site_config["appSettings"], variables, path, False, frozenset()))
            elif resource["type"] == "Microsoft.Web/sites/config" and config.get("name") == "appsettings":
                for key, value in config["properties"].items():
                    settings.append(AppSetting(name=key.strip("'"), value=value, file=path))
    assert sites == 1, f"expected exactly one Function App under infra/, found {sites}"
    return tuple(settings)


def named_settings() -> dict[str, AppSetting]:
    return {setting.name: setting for setting in function_app_settings() if setting.name is not None}


def documented_default(setting: Setting, guide: str) -> bool:
    """A deploy.md table row names the setting and shows its default (`value`, or "empty" for an empty default)."""
    shown_default = f"`{setting.default}`" if setting.default else "empty"
    return any(
        line.startswith("|") and f"`{setting.name}`" in line and shown_default in line for line in guide.splitlines()
    )


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.required], ids=lambda s: s.name)
def test_required_setting_is_always_set_in_the_function_app(setting: Setting) -> None:
    declared = named_settings()
    assert setting.name in declared, f"{setting.name} is required by shared/settings.py but infra/ never sets it"
    assert not declared[setting.name].conditional, f"{setting.name} is required but only set under a condition"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if not s.required], ids=lambda s: s.name)
def test_optional_setting_is_set_or_documented_with_its_default(setting: Setting) -> None:
    if setting.name in named_settings():
        return
    guide = DEPLOY_GUIDE.read_text(encoding="utf-8")
    assert documented_default(setting, guide), (
        f"{setting.name} is neither set in infra/ nor listed in docs/deploy.md with its default "
        f"({setting.default or 'empty'!s})"
    )


def test_every_app_setting_is_catalogued_or_belongs_to_the_runtime() -> None:
    catalogue = {s.name for s in SETTINGS}
    unknown = sorted(
        name
        for name in named_settings()
        if name not in catalogue and name not in RUNTIME_SETTING_NAMES and not name.startswith(RUNTIME_SETTING_PREFIXES)
    )
    assert not unknown, f"app settings neither in shared/settings.py nor known runtime settings: {unknown}"


def test_loop_built_settings_are_only_upstream_secret_references() -> None:
    for setting in function_app_settings():
        if setting.name is None:
            assert setting.loop_array == UPSTREAM_SECRET_NAMES_PARAM, (
                f"{setting.file.name}: app setting names built from {setting.loop_array!r}; "
                f"only {UPSTREAM_SECRET_NAMES_PARAM} may name settings"
            )


def test_upstream_secret_settings_reference_a_vault_secret_derived_from_their_name() -> None:
    upstream = [s for s in function_app_settings() if s.loop_array == UPSTREAM_SECRET_NAMES_PARAM]
    assert len(upstream) == 1, "expected one loop turning upstreamSecretNames into app settings"
    setting = upstream[0]
    assert is_key_vault_reference(setting.value), f"upstream secret settings must be Key Vault references: {setting}"
    assert f"SecretName=${{toLower(replace({setting.loop_item}, '_', '-'))}}" in setting.value


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.secret], ids=lambda s: s.name)
def test_secret_setting_is_only_ever_a_key_vault_reference(setting: Setting) -> None:
    for declared in function_app_settings():
        if declared.name == setting.name:
            assert is_key_vault_reference(declared.value), (
                f"{declared.file.name}: secret setting {setting.name} must be a Key Vault reference, "
                f"got {declared.value!r}"
            )


def test_signing_keys_reference_their_vault_secrets() -> None:
    declared = named_settings()
    assert declared["TOKEN_SIGNING_KEY"].value.endswith("SecretName=token-signing-key)")
    assert declared["TOKEN_SIGNING_KEY_PREVIOUS"].value.endswith("SecretName=token-signing-key-previous)")
    assert declared["TOKEN_SIGNING_KEY_NEXT"].value.endswith("SecretName=token-signing-key-next)")


def module_argument(module_file: str, param: str) -> Any:
    """The expression main.bicep passes to a module's parameter."""
    main = parsed_bicep()[INFRA / "main.bicep"]
    for module in main["modules"].values():
        if module["detail"]["path"] == module_file:
            return module["config"]["params"][param]
    raise AssertionError(f"main.bicep does not use {module_file}")


def test_registry_is_reached_with_managed_identity_not_a_connection_string() -> None:
    declared = named_settings()
    assert "REGISTRY_CONNECTION_STRING" not in declared
    assert "AzureWebJobsStorage" not in declared, "host storage must use identity-based settings, not a key"
    assert declared["AzureWebJobsStorage__credential"].value == "managedidentity"

    endpoint_param = declared["REGISTRY_TABLE_ENDPOINT"].value
    site_file = declared["REGISTRY_TABLE_ENDPOINT"].file.relative_to(INFRA).as_posix()
    argument = module_argument(site_file, endpoint_param)
    assert argument["operator"]["operands"]["operand_1"] == "storage", "the endpoint must come from the storage module"
    storage = parsed_bicep()[INFRA / "modules" / "storage.bicep"]
    assert storage["outputs"]["tableEndpoint"]["value"] == (
        "https://${storageAccount.name}.table.${environment().suffixes.storage}"
    )


def test_registry_tables_are_created_by_the_template() -> None:
    storage = parsed_bicep()[INFRA / "modules" / "storage.bicep"]
    assert set(storage["parameters"]["tableNames"]["default"]) == {"Clients", "Tenants", "UsedAssertions"}
    tables = [r for r in storage["resources"].values() if r["type"].endswith("/tableServices/tables")]
    assert tables and tables[0]["config"]["loop_type"]["detail"]["array_name"] == "tableNames"


def test_public_base_url_is_a_parameter_defaulting_to_the_https_default_host_name() -> None:
    # New apps may get <app>-<hash>.<region>-01.azurewebsites.net or sit behind a custom domain: a parameter.
    main = parsed_bicep()[INFRA / "main.bicep"]
    assert main["parameters"]["publicBaseUrl"]["default"] == "https://${functionAppName}.${appServiceDomainSuffix}"
    assert main["parameters"]["functionAppName"]["default"].startswith("func-${environmentName}-")
    setting = named_settings()["GATEWAY_PUBLIC_BASE_URL"]
    site_file = setting.file.relative_to(INFRA).as_posix()
    assert parsed_bicep()[setting.file]["parameters"][setting.value].get("default") is None, "main.bicep decides"
    passed = module_argument(site_file, setting.value)
    chosen = main["variables"][passed]["value"]["operator"]["operands"]  # the parameter, without a trailing slash
    requested = main["variables"][chosen["false_value"]]["value"]["operator"]["operands"]
    assert requested["false_value"] == "publicBaseUrl"
    assert requested["true_value"] == "https://${appName}.${appServiceDomainSuffix}", "empty still means the default"


def test_no_secret_material_is_written_into_infra() -> None:
    secret_patterns = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AccountKey=|SharedAccessSignature=|sig=")
    for path in sorted(INFRA.rglob("*")):
        if path.is_file():
            found = secret_patterns.search(path.read_text(encoding="utf-8"))
            assert found is None, f"{path.relative_to(REPO_ROOT)} contains secret-looking text {found.group(0)!r}"
