"""infra/ deploys either plan from one parameter: Flex Consumption (default) or Dedicated, both on the tested Python.

Flex Consumption: the package container read with the user-assigned identity, always-ready instances for the HTTP
group, per-instance HTTP concurrency equal to the worker's threads, the runtime in functionAppConfig, and none of
the settings Flex deprecates. Dedicated: the App Service plan with Always On, the health check and autoscale.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

from devtools.runtime_tier.environment import RUNTIME_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MODULES = INFRA / "modules"
# App settings the Flex Consumption plan deprecates (its runtime and build come from functionAppConfig and its
# deployment API); the Dedicated plan needs them.
FLEX_DEPRECATED = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
}


@cache
def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def only(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = [r for r in document["resources"].values() if r["type"] == resource_type and not r["existing"]]
    return dict(resource["config"])


def conditional(node: Any) -> tuple[str, Any, Any]:
    operands = node["operator"]["operands"]
    assert node["operator"]["type"] == "conditional", node
    return operands["condition"], operands["true_value"], operands["false_value"]


def setting_names(items: list[dict[str, Any]]) -> set[str]:
    return {str(item["name"]) for item in items}


def test_flex_consumption_is_the_default_and_dedicated_a_parameter_value() -> None:
    for path in (INFRA / "main.bicep", MODULES / "hosting-plan.bicep", MODULES / "function-app.bicep"):
        parameter = parse(path)["parameters"]["hostingPlan"]
        assert parameter["default"] == "FlexConsumption", path.name
        allowed = [d["argument"] for d in parameter["decorators"] if d["type"] == "allowed"]
        assert allowed == [["FlexConsumption", "Dedicated"]], path.name


def test_the_plan_is_fc1_on_flex_and_the_sized_app_service_plan_otherwise() -> None:
    document = parse(MODULES / "hosting-plan.bicep")
    plan = only(document, "Microsoft.Web/serverfarms")
    condition, flex_sku, dedicated_sku = conditional(plan["sku"])
    assert condition == "isFlex"
    variables = document["variables"]
    assert variables[flex_sku]["value"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert variables[dedicated_sku]["value"] == {"name": "planSku", "capacity": "minimumInstances"}
    assert conditional(plan["kind"])[1:] == ("functionapp", "linux")
    assert plan["properties"]["reserved"] is True


def test_flex_reads_its_package_from_a_private_container_with_the_user_assigned_identity() -> None:
    document = parse(MODULES / "function-app.bicep")
    site = only(document, "Microsoft.Web/sites")
    condition, flex, dedicated = conditional(site["properties"]["functionAppConfig"])
    assert (condition, flex, dedicated) == ("isFlex", "flexConfig", None)
    storage = document["variables"]["flexConfig"]["value"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer" and storage["value"] == "deploymentContainerUrl"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityResourceId",
    }
    container = only(parse(MODULES / "storage.bicep"), "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert container["properties"]["publicAccess"] == "None"
    # The identity reads it through its Storage Blob Data Owner role on the account.
    roles = parse(MODULES / "role-assignments.bicep")["variables"]["roleIds"]["value"]
    assert "storageBlobDataOwner" in roles


def test_flex_keeps_the_http_group_warm_and_takes_as_many_requests_as_the_worker_has_threads() -> None:
    document = parse(MODULES / "function-app.bicep")
    scale = document["variables"]["flexConfig"]["value"]["scaleAndConcurrency"]
    assert scale["alwaysReady"] == [{"name": "http", "instanceCount": "alwaysReadyInstances"}]
    assert scale["triggers"] == {"http": {"perInstanceConcurrency": "pythonThreadCount"}}
    settings = document["variables"]["runtimeSettings"]["value"]
    (threads,) = [s for s in settings if s["name"] == "PYTHON_THREADPOOL_THREAD_COUNT"]
    assert threads["value"] == {"function": {"type": "string", "parameters": {"value_to_convert": "pythonThreadCount"}}}
    main = parse(INFRA / "main.bicep")["modules"]["functionApp"]["config"]["params"]
    assert main["alwaysReadyInstances"] == "minimumInstances"
    assert main["deploymentContainerUrl"] != "" and main["hostingPlan"] == "hostingPlan"


def test_both_plans_run_the_python_version_the_real_runtime_tier_tests() -> None:
    tested = "{}.{}".format(*RUNTIME_VERSION)
    document = parse(MODULES / "function-app.bicep")
    assert document["parameters"]["pythonVersion"]["default"] == tested
    runtime = document["variables"]["flexConfig"]["value"]["runtime"]
    assert runtime == {"name": "python", "version": "pythonVersion"}
    site_config = only(document, "Microsoft.Web/sites")["properties"]["siteConfig"]
    assert conditional(site_config["linuxFxVersion"]) == ("isFlex", None, "Python|${pythonVersion}")


def test_flex_gets_none_of_the_settings_it_deprecates_and_dedicated_keeps_them() -> None:
    document = parse(MODULES / "function-app.bicep")
    variables = document["variables"]
    always = set()
    for name in ("runtimeSettings", "gatewaySettings", "portalSettings"):
        always |= setting_names(variables[name]["value"])
    assert not always & FLEX_DEPRECATED, f"set on Flex too: {always & FLEX_DEPRECATED}"
    dedicated_only = setting_names(variables["dedicatedOnlySettings"]["value"])
    assert {"FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "ENABLE_ORYX_BUILD"} <= dedicated_only
    app_settings = only(document, "Microsoft.Web/sites")["properties"]["siteConfig"]["appSettings"]
    first = app_settings["function"]["parameters"]["arg_1"]
    assert conditional(first) == ("isFlex", [], "dedicatedOnlySettings")


def test_always_on_and_the_health_check_belong_to_the_dedicated_plan() -> None:
    site_config = only(parse(MODULES / "function-app.bicep"), "Microsoft.Web/sites")["properties"]["siteConfig"]
    assert conditional(site_config["healthCheckPath"]) == ("isFlex", None, "/health")
    assert site_config["alwaysOn"] == {"operator": {"type": "not", "operands": {"bool_value": "isFlex"}}}


def test_checkov_finds_no_failed_check_with_dedicated_as_the_default(tmp_path: Path) -> None:
    """test_infra_checkov.py scans infra/ as it is (Flex Consumption by default); this scans the Dedicated shape."""
    import json
    import shutil
    import subprocess

    from test_infra_checkov import CHECKOV

    assert CHECKOV.is_file(), f"checkov is not installed at {CHECKOV}: run devtools/install_checkov.sh"
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    switched = 0
    for path in copy.rglob("*.bicep"):
        text = path.read_text(encoding="utf-8")
        new = text.replace("param hostingPlan string = 'FlexConsumption'", "param hostingPlan string = 'Dedicated'")
        switched += new != text
        path.write_text(new, encoding="utf-8")
    assert switched == 3
    completed = subprocess.run(
        [str(CHECKOV), "-d", str(copy), "--framework", "bicep", "--skip-download", "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(completed.stdout)
    reports = report if isinstance(report, list) else [report]
    (bicep,) = [r for r in reports if r.get("check_type") == "bicep"]
    assert bicep["summary"]["parsing_errors"] == 0 and bicep["summary"]["passed"] > 0
    failed = [f"{c['check_id']} {c['resource']}" for c in bicep["results"]["failed_checks"]]
    assert not failed, f"checkov fails the Dedicated shape: {failed}"
