"""Every resource type and API version in the Bicep (infra/azure/*.bicep) checked against the
Azure REST API specs, as pulumi-azure-native generates them (the wheel is fetched once with pip
into build/tools/schemas and read as text, never imported).

No Bicep compiler is installable here (it ships outside the package registries), so nothing else
would notice a type the provider does not have or an API version it never published: ARM refuses
the whole deployment with ``NoRegisteredProviderFound`` / ``InvalidResourceType``. For each
resource, pulumi-azure-native's module states the API version it defaults to, the "other available
API versions", and every earlier version as an alias (``azure-native:<module>/v<yyyymmdd>:<Name>``);
their union is the set the type accepts. The ARM type -> pulumi resource map is written here: a
type missing from it is itself a finding, so a new resource in the Bicep cannot go unchecked.
"""

from __future__ import annotations

import re
import zipfile
from functools import lru_cache
from pathlib import Path

from .iac import schema_wheel

DIST, VERSION = "pulumi-azure-native", "3.29.0"
# ARM type (lowercase) -> pulumi-azure-native module file
PULUMI = {
    "microsoft.authorization/roleassignments": "authorization/role_assignment.py",
    "microsoft.cognitiveservices/accounts": "cognitiveservices/account.py",
    "microsoft.eventgrid/systemtopics": "eventgrid/system_topic.py",
    "microsoft.eventgrid/systemtopics/eventsubscriptions": "eventgrid/system_topic_event_subscription.py",
    "microsoft.eventgrid/topics": "eventgrid/topic.py",
    "microsoft.eventgrid/topics/eventsubscriptions": "eventgrid/topic_event_subscription.py",
    "microsoft.insights/actiongroups": "monitor/action_group.py",
    "microsoft.insights/components": "applicationinsights/component.py",
    "microsoft.keyvault/vaults": "keyvault/vault.py",
    "microsoft.machinelearningservices/workspaces": "machinelearningservices/workspace.py",
    "microsoft.machinelearningservices/workspaces/datastores": "machinelearningservices/datastore.py",
    "microsoft.machinelearningservices/workspaces/computes": "machinelearningservices/compute.py",
    "microsoft.managedidentity/userassignedidentities": "managedidentity/user_assigned_identity.py",
    "microsoft.storage/storageaccounts": "storage/storage_account.py",
    "microsoft.storage/storageaccounts/blobservices": "storage/blob_service_properties.py",
    "microsoft.storage/storageaccounts/blobservices/containers": "storage/blob_container.py",
    "microsoft.storage/storageaccounts/queueservices": "storage/queue_service_properties.py",
    "microsoft.storage/storageaccounts/queueservices/queues": "storage/queue.py",
    "microsoft.storage/storageaccounts/tableservices": "storage/table_service_properties.py",
    "microsoft.storage/storageaccounts/tableservices/tables": "storage/table.py",
    "microsoft.containerregistry/registries": "containerregistry/registry.py",
    "microsoft.web/serverfarms": "web/app_service_plan.py",
    "microsoft.web/sites": "web/web_app.py",
}
RESOURCE = re.compile(r"^\s*resource\s+(\w+)\s+'([\w.]+/[\w./]+)@([\w-]+)'", re.M)


def declared(folder: Path) -> list[tuple[str, str, str, str]]:
    """(file, symbol, type, api version) of every resource in the folder's Bicep files."""
    return [(f.name, m.group(1), m.group(2), m.group(3)) for f in sorted(folder.glob("*.bicep"))
            for m in RESOURCE.finditer(f.read_text())]


@lru_cache(maxsize=None)
def api_versions(module: str) -> frozenset[str] | None:
    """The API versions a pulumi-azure-native resource module names, or None if it has none."""
    with zipfile.ZipFile(schema_wheel(DIST, VERSION)) as z:
        try:
            text = z.read(f"pulumi_azure_native/{module}").decode()
        except KeyError:
            return None
    found = set(re.findall(r"Uses Azure REST API version (\d{4}-\d{2}-\d{2}(?:-preview)?)", text))
    for listed in re.findall(r"Other available API versions: ([^.]+(?:\.\d+)*)\.", text):
        found |= set(re.findall(r"\d{4}-\d{2}-\d{2}(?:-preview)?", listed))
    for y, m, d, preview in re.findall(r'type_="azure-native:[\w]+/v(\d{4})(\d{2})(\d{2})(preview)?:', text):
        found.add(f"{y}-{m}-{d}" + ("-preview" if preview else ""))
    return frozenset(found) if found else None


def problems(folder: Path) -> list[str]:
    out = []
    for file, symbol, rtype, version in declared(folder):
        module = PULUMI.get(rtype.lower())
        if module is None:
            out.append(f"{file}: {symbol} is a {rtype}, which this check does not know: add it to PULUMI")
            continue
        versions = api_versions(module)
        if versions is None:
            out.append(f"{file}: {symbol}: {rtype} is not a resource of the Azure provider ({module})")
        elif version not in versions:
            near = sorted(versions)[-3:]
            out.append(f"{file}: {symbol}: {rtype} has no API version {version} (the newest: {', '.join(near)})")
    return out
