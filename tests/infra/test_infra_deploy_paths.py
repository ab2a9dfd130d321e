"""Both deployment paths (az + func, and azd up) find what they need in infra/, and the plan scales on more than CPU."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
DEPLOY_GUIDE = REPO_ROOT / "docs" / "deploy.md"


@cache
def parse(path: Path) -> dict[str, Any]:
    return BicepParser().parse(file_path=path)


def main_bicep() -> dict[str, Any]:
    return parse(INFRA / "main.bicep")


def azure_yaml() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))


def site_resource() -> dict[str, Any]:
    (site,) = [
        r
        for r in parse(INFRA / "modules" / "function-app.bicep")["resources"].values()
        if r["type"] == "Microsoft.Web/sites"
    ]
    return site


def test_azure_yaml_deploys_this_folder_as_a_python_function_app() -> None:
    project = azure_yaml()
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    ((name, service),) = project["services"].items()
    assert service == {"project": ".", "language": "python", "host": "function"}
    # azd deploy finds the app by this tag; the Function App carries it.
    tags = site_resource()["config"]["tags"]["function"]
    assert tags["type"] == "union"
    assert tags["parameters"]["arg_2"] == {"'azd-service-name'": "azdServiceName"}
    module = parse(INFRA / "modules" / "function-app.bicep")
    assert module["parameters"]["azdServiceName"]["default"] == name


def test_azd_parameters_file_fills_every_required_parameter() -> None:
    # azd reads infra/<module>.parameters.json and substitutes ${AZURE_ENV_NAME} and friends.
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = main_bicep()["parameters"]
    required = {name for name, p in declared.items() if p.get("default") is None}
    assert required <= set(parameters), f"azd would prompt for {required - set(parameters)}"
    assert set(parameters) <= set(declared), f"unknown parameters {set(parameters) - set(declared)}"
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"


def test_main_outputs_what_azd_and_the_docs_read() -> None:
    outputs = main_bicep()["outputs"]
    azd = {
        "AZURE_LOCATION",
        "AZURE_TENANT_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_FUNCTION_APP_NAME",
        "AZURE_GATEWAY_BASE_URL",
        "AZURE_KEY_VAULT_NAME",
        "AZURE_REGISTRY_TABLE_ENDPOINT",
    }
    assert azd <= set(outputs)
    assert outputs["AZURE_FUNCTION_APP_NAME"]["value"] == outputs["functionAppName"]["value"]
    assert outputs["AZURE_GATEWAY_BASE_URL"]["value"] == outputs["publicBaseUrl"]["value"]
    assert outputs["AZURE_REGISTRY_TABLE_ENDPOINT"]["value"] == outputs["registryTableEndpoint"]["value"]
    guide = DEPLOY_GUIDE.read_text(encoding="utf-8")
    for name in sorted(set(re.findall(r"\bout (\w+)\)", guide)) | set(re.findall(r"azd env get-value (\w+)", guide))):
        assert name in outputs, f"docs/deploy.md reads output {name}, which main.bicep does not declare"


def dotted(expression: Any) -> str:
    """`a.b.c` for pycep's nested property accessors."""
    if isinstance(expression, str):
        return expression
    operands = expression["operator"]["operands"]
    assert expression["operator"]["type"] == "property_accessor", expression
    return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"


def test_identity_client_and_principal_ids_are_outputs() -> None:
    outputs = main_bicep()["outputs"]
    assert dotted(outputs["identityClientId"]["value"]) == "identity.outputs.clientId"
    assert dotted(outputs["identityPrincipalId"]["value"]) == "identity.outputs.principalId"
    identity = parse(INFRA / "modules" / "identity.bicep")["outputs"]
    assert dotted(identity["clientId"]["value"]) == "identity.properties.clientId"
    assert dotted(identity["principalId"]["value"]) == "identity.properties.principalId"


def test_both_paths_are_documented() -> None:
    guide = DEPLOY_GUIDE.read_text(encoding="utf-8")
    for command in (
        "az deployment group create",
        "func azure functionapp publish",
        "azd up",
        "python -m conformance smoke",
    ):
        assert command in guide, f"docs/deploy.md does not show {command!r}"


def autoscale_rules() -> list[dict[str, Any]]:
    module = parse(INFRA / "modules" / "autoscale.bicep")
    (autoscale,) = [r for r in module["resources"].values() if r["type"] == "Microsoft.Insights/autoscalesettings"]
    (profile,) = autoscale["config"]["properties"]["profiles"]
    return profile["rules"]


def test_the_plan_scales_out_on_requests_per_instance_as_well_as_cpu() -> None:
    # An instance whose threads all wait on slow providers is busy at a few percent CPU.
    rules = autoscale_rules()
    triggers = {(r["metricTrigger"]["metricName"], r["scaleAction"]["direction"]): r["metricTrigger"] for r in rules}
    scale_out = {name for name, direction in triggers if direction == "Increase"}
    scale_in = {name for name, direction in triggers if direction == "Decrease"}
    assert scale_out == {"CpuPercentage", "Requests"}
    # Autoscale scales in only when every scale-in rule holds, so each scale-out metric needs one.
    assert scale_out == scale_in
    for direction in ("Increase", "Decrease"):
        requests = triggers[("Requests", direction)]
        assert requests["metricResourceUri"] == "siteId" and requests["dividePerInstance"] is True
        assert requests["metricNamespace"] == "Microsoft.Web/sites" and requests["statistic"] == "Sum"
        assert triggers[("CpuPercentage", direction)]["metricResourceUri"] == "planId"


def test_autoscale_targets_the_plan_and_counts_the_apps_requests() -> None:
    (module,) = [m for m in main_bicep()["modules"].values() if m["detail"]["path"] == "modules/autoscale.bicep"]
    # Autoscale belongs to the Dedicated plan only; Flex Consumption scales itself.
    condition = module["config"]["condition"]["operator"]["operands"]
    assert condition == {"operand_1": "hostingPlan", "operand_2": "Dedicated"}
    params = module["config"]["config"]["params"]
    assert dotted(params["planId"]) == "plan.outputs.resourceId"
    assert dotted(params["siteId"]) == "functionApp.outputs.resourceId"
    assert main_bicep()["parameters"]["requestsPerInstanceScaleOut"]["default"] == 900


def test_the_python_worker_runs_the_deliberate_number_of_threads() -> None:
    settings = json.dumps(parse(INFRA / "modules" / "function-app.bicep")["variables"]["runtimeSettings"])
    assert '"PYTHON_THREADPOOL_THREAD_COUNT"' in settings and "pythonThreadCount" in settings
    assert main_bicep()["parameters"]["pythonThreadCount"]["default"] == 32
    assert "PYTHON_THREADPOOL_THREAD_COUNT" in DEPLOY_GUIDE.read_text(encoding="utf-8")


def test_the_example_bicepparam_follows_the_azd_environment_name() -> None:
    # Whichever parameters file an azd release reads, the environment name is azd's.
    text = (INFRA / "main.bicepparam").read_text(encoding="utf-8")
    assert re.search(
        r"^param environmentName = readEnvironmentVariable\('AZURE_ENV_NAME', '[a-z0-9-]{1,12}'\)$", text, re.MULTILINE
    )
