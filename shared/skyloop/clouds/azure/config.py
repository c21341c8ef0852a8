"""Where Skyloop's Azure resources are: one validated object from ``SKYLOOP_AZURE_*``.

The Bicep template sets each from the resource it creates. ``connection_string`` is for Azurite
and local runs only; in Azure the account URL and the function's managed identity
(``DefaultAzureCredential``) are used, so no key is ever configured.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from skyloop.envsettings import EnvSettings


class AzureTarget(BaseModel):
    """A service remediation and detection act on: its Azure resource."""

    resource_id: str  # /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.App/containerApps/<name>
    kind: Literal["containerapp", "webapp", "vmss"] = "containerapp"
    model_group: str | None = None  # a model-serving service: rollback goes through the registry


class AzureSettings(EnvSettings):
    env_prefix: ClassVar[str] = "SKYLOOP_AZURE_"

    account_url: str = ""  # https://<account>.blob.core.windows.net (its queue and table twins follow)
    connection_string: str = ""  # Azurite / local only
    container: str = "datasets"  # training data, models, cards
    state_table: str = "skyloopstate"  # state and idempotency records
    remediation_queue: str = "remediation"  # the Functions host moves poison messages to <queue>-poison
    dead_letter_queue: str = "skyloop-dead-letters"  # events that can never succeed, with the reason
    # service name -> its resource (JSON): what an alert's window is read from, and acted on
    targets: dict[str, AzureTarget] = Field(default_factory=dict)
    # Azure Machine Learning: the workspace, its managed online endpoints and command jobs
    subscription_id: str = ""
    resource_group: str = ""
    workspace: str = ""
    endpoint_prefix: str = "skyloop"  # <prefix>-<group>: one managed online endpoint per group
    instance_type: str = "Standard_DS3_v2"
    # the registered environment the scoring script and training jobs run in, pinned to the
    # function's model libraries (build/azure/environment/, infra/azure/package.py)
    serving_environment: str = "azureml:skyloop-serving@latest"
    training_compute: str = "cpu-cluster"
    # batch scoring above the size rule: a parallel job on the training cluster
    batch_instances: int = Field(2, ge=1)
    batch_mini_batch_size: str = "50mb"  # MLTable splits the CSV into mini-batches of about this size
    # the workspace's datastore on the datasets container: Azure ML reads datasets, code and models
    # through it (azureml://datastores/<name>/paths/...), never by the blob's https URL
    datastore: str = "skyloopdatasets"
    # the user-assigned identity (resource ID) Skyloop's online endpoints run as, which may read
    # the datasets container (infra/azure/main.bicep); empty: Azure ML's system-assigned one
    endpoint_identity: str = ""
    # domain events (approvals, passed canaries) on an Event Grid custom topic
    events_topic_endpoint: str = ""  # https://<topic>.<region>-1.eventgrid.azure.net/api/events
    # People are told (skyloop.notify): the Storage Queue notices wait on for the notify function, and
    # the Event Grid topic people subscribe to; empty: this deployment does not notify
    notices_queue: str = ""
    notifications_topic_endpoint: str = ""
    # the Durable Functions orchestration that runs the rollout's steps; empty: inline
    rollout_orchestrator: str = ""
    # Azure AI services (vision, language, translator, speech): the multi-service resource
    ai_endpoint: str = ""  # https://<resource>.cognitiveservices.azure.com/
    ai_region: str = ""  # the resource's region (Translator with Entra ID needs it, with the resource id)
    ai_resource_id: str = ""  # /subscriptions/.../accounts/<name>: Translator's Ocp-Apim-ResourceId
