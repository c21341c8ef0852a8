"""The Bicep template (infra/azure/main.bicep) passes checkov (each suppressed finding carries its
reason), and its promises hold on the template as checkov's own Bicep parser (pycep) reads it:
Event Grid delivers to functions that exist in function_app.py with the filters the decoder
expects and a dead-letter container, the action group sends the common alert schema to detect,
the queue the host watches is the one the app is told about, no key is configured anywhere, the
identity's roles are data-plane roles on the resources they serve, and every setting it writes is
one Skyloop reads. No Bicep compiler is installable here: ``az bicep build`` has not been run."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from .iac import checkov, failed

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "azure" / "main.bicep"
APP_MODULE = ROOT / "infra" / "azure" / "function-app.bicep"


def _doc() -> dict[str, Any]:
    pycep = pytest.importorskip("pycep")
    return dict(pycep.BicepParser().parse(file_path=TEMPLATE))


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's body, under its condition when it has one (``= if (cond) {...}``)."""
    config = resource["config"]
    return dict(config["config"]) if "condition" in config else dict(config)


def _functions() -> dict[str, str]:
    """function_app.py's functions -> their trigger decorator."""
    tree = ast.parse((ROOT / "functions/azure/function_app.py").read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [d.args[0].value for d in node.decorator_list if isinstance(d, ast.Call)
                     and getattr(d.func, "attr", "") == "function_name"]
            triggers = [d.func.attr for d in node.decorator_list if isinstance(d, ast.Call)
                        and getattr(d.func, "attr", "").endswith(("_trigger", "route"))]
            if triggers:
                out[names[0] if names else node.name] = triggers[0]
    return out


def test_checkov_passes_with_every_skip_explained() -> None:
    report = checkov("-d", str(TEMPLATE.parent), "--framework", "bicep")
    assert report["summary"]["failed"] == 0, failed(report)
    assert report["summary"]["passed"] > 15
    for check, reason in re.findall(r"//\s*checkov:skip=([A-Z_0-9]+):(.*)", TEMPLATE.read_text()):
        assert len(reason.strip()) > 40, f"checkov skip {check} has no reason"


def test_event_grid_delivers_to_functions_that_exist_with_the_filters_the_decoder_reads() -> None:
    from skyloop.clouds.azure.eventgrid import EVENT_TYPE_PREFIX
    from skyloop.clouds.azure.batch import TAG
    from skyloop.clouds.azure.events import BLOB_CREATED, MODEL_REGISTERED, RUN_STATUS_CHANGED

    resources, functions = _doc()["resources"], _functions()
    subs = {k: _body(r)["properties"] for k, r in resources.items() if r["type"].endswith("/eventSubscriptions")}
    assert set(subs) == {"uploads", "approvals", "domainEvents", "batchJobsEnded"}
    for name, props in subs.items():
        fn = props["destination"]["properties"]["resourceId"].rsplit("/functions/", 1)[1]
        assert functions.get(fn) == "event_grid_trigger", (name, fn)
        assert props["destination"]["properties"]["maxEventsPerBatch"] == 1
        assert props["deadLetterDestination"]["properties"]["blobContainerName"] == "deadLetters"
        assert props["retryPolicy"]["maxDeliveryAttempts"] >= 10
    assert subs["uploads"]["filter"]["includedEventTypes"] == [BLOB_CREATED]
    assert subs["approvals"]["filter"]["includedEventTypes"] == [MODEL_REGISTERED]
    assert subs["approvals"]["filter"]["advancedFilters"] == [
        {"operatorType": "StringIn", "key": "data.ModelTags.approval", "values": ["approved"]}]
    # a batch job's end: the runs Skyloop tagged, in the states the decoder maps
    assert subs["batchJobsEnded"]["filter"]["includedEventTypes"] == [RUN_STATUS_CHANGED]
    assert subs["batchJobsEnded"]["filter"]["advancedFilters"] == [
        {"operatorType": "StringIn", "key": "data.runStatus", "values": ["Completed", "Failed", "Canceled"]},
        {"operatorType": "IsNotNull", "key": f"data.runTags.{TAG}"}]
    assert set(subs["domainEvents"]["filter"]["includedEventTypes"]) == {
        f"{EVENT_TYPE_PREFIX}ModelVersionApproved", f"{EVENT_TYPE_PREFIX}CanaryPassed"}


def test_alerts_and_the_queue_reach_their_functions() -> None:
    resources, functions = _doc()["resources"], _functions()
    [receiver] = resources["alerts"]["config"]["properties"]["azureFunctionReceivers"]
    assert receiver["useCommonAlertSchema"] is True and receiver["functionName"] == "detect"
    assert functions["detect"] == "route" and 'route="alerts"' in (ROOT / "functions/azure/function_app.py").read_text()
    assert "%SKYLOOP_AZURE_REMEDIATION_QUEUE%" in (ROOT / "functions/azure/function_app.py").read_text()
    settings = {s["name"]: s["value"] for s in _doc()["variables"]["skyloopSettings"]["value"]}
    assert settings["SKYLOOP_AZURE_REMEDIATION_QUEUE"] == "remediationQueue"  # the variable the queue is made from
    # the queue is on the data account, the host on its own: the trigger has its own connection
    assert 'connection="SKYLOOP_QUEUES"' in (ROOT / "functions/azure/function_app.py").read_text()
    assert "SKYLOOP_QUEUES__queueServiceUri" in settings
    assert "'SKYLOOP_QUEUES__credential', value: 'managedidentity'" in APP_MODULE.read_text()
    assert resources["queueRemediation"]["config"]["name"] == "remediationQueue"
    assert resources["queuePoison"]["config"]["name"] == "${remediationQueue}-poison"
    host = json.loads((ROOT / "functions/azure/host.json").read_text())
    assert host["extensions"]["queues"]["maxDequeueCount"] == 5


def test_no_key_anywhere_and_data_plane_roles_only() -> None:
    doc = _doc()
    text = TEMPLATE.read_text()
    assert "listKeys" not in text and "AccountKey" not in text
    storage = doc["resources"]["storage"]["config"]["properties"]
    assert storage["allowSharedKeyAccess"] is False and storage["allowBlobPublicAccess"] is False
    assert doc["resources"]["events"]["config"]["properties"]["disableLocalAuth"] is True
    assert doc["resources"]["ai"]["config"]["properties"]["disableLocalAuth"] is True
    roles = doc["variables"]["roles"]["value"]
    allowed = {"blobDataContributor", "queueDataContributor", "tableDataContributor", "eventGridDataSender",
               "monitoringReader", "azureMlDataScientist", "cognitiveServicesUser", "monitoringMetricsPublisher",
               "blobDataReader", "blobDataOwner", "queueMessageSender", "keyVaultSecretsUser"}
    assert set(roles) == allowed  # no Owner, no Contributor
    scopes = {k: _body(r).get("scope") for k, r in doc["resources"].items()
              if r["type"] == "Microsoft.Authorization/roleAssignments"}
    # nothing on Skyloop's data account as a whole: containers, queues, the table; the hosts' broad
    # roles (Blob Data Owner) on the host account, which holds no Skyloop data
    assert "storage" not in scopes.values()
    assert scopes == {"stateRoles": "state", "datasetRoles": "datasetsContainer", "remediationQueueRoles": "queueRemediation",
                      "poisonQueueRole": "queuePoison", "deadLetterRoles": "queueDeadLetters", "hostBlobRoles": "hostStorage",
                      "hostQueueRoles": "hostStorage", "hostTableRoles": "hostStorage", "sendRoles": "events",
                      "mlRoles": "workspace", "workspaceReadsDatasets": "datasetsContainer",
                      "endpointsReadDatasets": "datasetsContainer", "aiRole": "ai", "telemetryRoles": "insights",
                      "metricsRole": None, "noticesQueueRole": "queueNotices", "noticesPoisonRole": "queueNoticesPoison",
                      "notifySendRole": "notifications", "vaultRole": "vault"}
    assert "blobDataOwner" in json.dumps(doc["resources"]["hostBlobRoles"]) and "blobDataOwner" not in json.dumps(
        {k: v for k, v in doc["resources"].items() if k != "hostBlobRoles"})


def _grants(doc: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """group -> {(scope, role)} from the role assignments: a loop over ``groups`` grants each group,
    a loop over a list of {group, role} the pairs, a single assignment its principal's group."""
    variables = {k: v["value"] for k, v in doc["variables"].items()}
    out: dict[str, set[tuple[str, str]]] = {g: set() for g in variables["groups"]}
    for name, r in doc["resources"].items():
        if r["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        body, text = _body(r), json.dumps(_body(r))
        scope = str(body.get("scope") or "resourceGroup")
        loop = r["config"].get("loop_type")
        items = variables.get(loop["detail"]["array_name"]) if loop else None
        if items and isinstance(items[0], dict):
            for g in items:
                out[g["group"]].add((scope, g["role"]["operator"]["operands"]["operand_2"]))
            continue
        role = re.search(r'"operand_1": "roles", "operand_2": "(\w+)"', text)
        assert role, name
        if items:  # a loop over groups, or over some of them (publishers)
            for g in items:
                out[g].add((scope, role.group(1)))
        else:
            group = re.search(r'"operand_1": "at", "operand_2": "(\w+)"', text)
            if group:
                out[group.group(1)].add((scope, role.group(1)))
    return out


def test_each_function_group_runs_as_its_own_identity_with_its_own_roles() -> None:
    """One identity held Blob Data Contributor on the account with the datasets and the models, and
    every other role every function needed. Four apps now run the one package (function-app.bicep),
    each with every function but its own disabled and an identity of its own."""
    doc = _doc()
    module = doc["modules"]["apps"]
    assert module["detail"]["path"] == "function-app.bicep"
    assert module["config"]["loop_type"]["detail"]["array_name"] == "groups"
    assert doc["variables"]["groups"]["value"] == ["train", "deploy", "detect", "remediate", "notify"]
    runs = doc["variables"]["runs"]["value"]
    assert sorted(f for fs in runs.values() for f in fs) == sorted(set(_functions()) - {"invoke"})
    assert "'AzureWebJobs.${fn}.Disabled'" in APP_MODULE.read_text()
    grants = _grants(doc)
    writes = {g for g, gs in grants.items() if ("datasetsContainer", "blobDataContributor") in gs}
    assert writes == {"train"}, grants  # the others read, to verify artifacts and cards
    assert {g for g, gs in grants.items() if any(s == "events" for s, _ in gs)} == {"train", "detect"}
    assert {g for g, gs in grants.items() if any(s == "ai" for s, _ in gs)} == {"train"}
    assert {g for g, gs in grants.items() if ("resourceGroup", "monitoringReader") in gs} == {"detect"}
    assert {g for g, gs in grants.items() if ("queueRemediation", "queueDataContributor") in gs} == {"remediate"}
    # people are told: only the notify app reads the notices, sends to the notifications topic, reads the secrets
    assert {g for g, gs in grants.items() if any(s in ("queueNotices", "notifications", "vault") for s, _ in gs)} == {"notify"}
    assert all(("state", "tableDataContributor") in gs and ("hostStorage", "blobDataOwner") in gs
               for gs in grants.values())


def test_every_setting_it_writes_is_one_skyloop_reads() -> None:
    from skyloop.clouds.azure.config import AzureSettings

    names = set(re.findall(r"'(SKYLOOP_AZURE_[A-Z_]+)'", TEMPLATE.read_text()))
    known = {f"SKYLOOP_AZURE_{f.upper()}" for f in AzureSettings.model_fields}
    assert names and names <= known, names - known


def test_the_first_deployment_creates_no_subscription_and_the_readme_deploys_in_stages() -> None:
    """Event Grid validates a subscription against its function, which exists only once the code is
    published: the README deployed the template first, and the first deployment failed with
    "Destination endpoint not found". The subscriptions are conditional, off by default, and the
    README's steps deploy without them, publish, then deploy with them."""
    doc = _doc()
    subs = {k: r for k, r in doc["resources"].items() if r["type"].endswith("/eventSubscriptions")}
    assert subs and all(r["config"].get("condition") == "subscribeEvents" for r in subs.values())
    assert doc["parameters"]["subscribeEvents"]["default"] is False
    deploy = (ROOT / "README.md").read_text().split("## Deploy to Azure", 1)[1].split("\n## ", 1)[0]
    steps = [m.start() for m in re.finditer(r"az deployment group create", deploy)]
    first, publish, last = (deploy.find("subscribeEvents=false"), deploy.find("func azure functionapp publish"),
                            deploy.find("subscribeEvents=true"))
    assert len(steps) >= 2 and steps[0] < first < publish < last, (steps, first, publish, last)


def test_application_insights_takes_the_apps_entra_telemetry() -> None:
    """Local auth is off on Application Insights, and the identity the app authenticates telemetry
    with lacked Monitoring Metrics Publisher: every trace was refused."""
    doc = _doc()
    assert doc["resources"]["insights"]["config"]["properties"]["DisableLocalAuth"] is True
    assert ("{ name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: "
            "'Authorization=AAD;ClientId=${identity.properties.clientId}' }") in APP_MODULE.read_text()
    role = _body(doc["resources"]["telemetryRoles"])
    assert role["scope"] == "insights" and "monitoringMetricsPublisher" in json.dumps(role)
    assert doc["resources"]["telemetryRoles"]["config"]["loop_type"]["detail"]["array_name"] == "groups"
    assert doc["variables"]["roles"]["value"]["monitoringMetricsPublisher"] == "3913510d-42f4-4e42-8a64-420c390055eb"


def test_azure_ml_reads_skyloops_storage_through_a_keyless_datastore_with_read_roles() -> None:
    """Azure ML was given raw https URLs into an account with shared keys off, and no Azure ML
    identity had a role on it: every training job and deployment would fail to read. The datastore
    holds no credential; the workspace's and the endpoints' identities may read the datasets
    container, and the endpoints' identity what Azure ML requires of it."""
    doc = _doc()
    ds = doc["resources"]["datastore"]["config"]
    assert ds["properties"]["credentials"]["credentialsType"] == "None"
    assert ds["properties"]["containerName"] == "datasets" or "datasets" in str(ds["properties"]["containerName"])
    roles = doc["variables"]["roles"]["value"]
    reads = {k: r["config"] for k, r in doc["resources"].items() if k in ("workspaceReadsDatasets", "endpointsReadDatasets")}
    assert len(reads) == 2 and all(roles["blobDataReader"] == "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" for _ in reads)
    text = TEMPLATE.read_text()
    assert "'SKYLOOP_AZURE_DATASTORE', value: datastore.name" in text
    assert "'SKYLOOP_AZURE_ENDPOINT_IDENTITY', value: endpointIdentity.id" in text
    access = (TEMPLATE.parent / "ml-endpoint-access.bicep").read_text()
    assert "7f951dda-4ed3-4680-a7ca-43fe172d538d" in access and "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" in access


def test_every_resource_type_and_api_version_is_one_arm_has() -> None:
    """Against the Azure REST API specs as pulumi-azure-native generates them
    (tests/contract/azure_arm.py): with no Bicep compiler here, a made-up type or API version
    would first be refused by ARM, failing the whole deployment."""
    from .azure_arm import declared, problems

    assert len(declared(TEMPLATE.parent)) >= 20
    assert problems(TEMPLATE.parent) == []


def test_the_arm_check_catches_a_type_or_version_arm_lacks(tmp_path: Path) -> None:
    from .azure_arm import problems

    text = TEMPLATE.read_text().replace("'Microsoft.Insights/components@2020-02-02'",
                                        "'Microsoft.Insights/component@2020-02-02'", 1)
    (tmp_path / "main.bicep").write_text(text)
    app = APP_MODULE.read_text().replace("'Microsoft.Web/sites@2023-12-01'", "'Microsoft.Web/sites@2023-13-01'", 1)
    (tmp_path / "function-app.bicep").write_text(app)
    found = problems(tmp_path)
    assert any("Microsoft.Web/sites has no API version 2023-13-01" in p for p in found), found
    assert any("Microsoft.Insights/component, which this check does not know" in p for p in found), found
