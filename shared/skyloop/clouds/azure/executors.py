"""Remediation on Azure: Container Apps, App Service and VM Scale Sets (primitives only).

- Container Apps: ``replicas`` is the app's minimum replica count (it scales above it on its
  own); a restart restarts its latest revision.
- App Service: a restart restarts the app; its scale is the App Service plan's, so scale-out is
  refused by ``actions`` (the plan may host other apps).
- VM Scale Sets: ``replicas`` is the SKU capacity; a restart restarts every instance.
- An Azure ML endpoint is no target here: rollback and canary abort are model actions the core
  carries out through the registry and the deployer; a service with ``model_group`` names the
  model it serves for them.

No cache-clearing primitive on any of them. Each call waits for its long-running operation: the
core records the effect only after it is in place.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import NotFound
from .config import AzureSettings, AzureTarget

ACTIONS = {"containerapp": ["scale_out", "restart_service"], "webapp": ["restart_service"],
           "vmss": ["scale_out", "restart_service"]}


def _parts(resource_id: str) -> tuple[str, str, str]:
    """/subscriptions/<s>/resourceGroups/<rg>/providers/<ns>/<type>/<name> -> (subscription, group, name)."""
    p = resource_id.strip("/").split("/")
    if len(p) < 8 or p[0].lower() != "subscriptions" or p[2].lower() != "resourcegroups":
        raise NotFound(f"{resource_id!r} is not an Azure resource ID")
    return p[1], p[3], p[-1]


class AzureActionExecutor:
    def __init__(self, azure: AzureSettings, *, clients: Mapping[str, Any] | None = None) -> None:
        self.azure = azure
        self.clients = dict(clients or {})

    def _c(self, kind: str, subscription: str) -> Any:
        key = f"{kind}:{subscription}"
        if kind in self.clients:
            return self.clients[kind]
        if key not in self.clients:
            from .storage import _credential

            client: Any
            if kind == "containerapp":
                from azure.mgmt.appcontainers import ContainerAppsAPIClient as client
            elif kind == "webapp":
                from azure.mgmt.web import WebSiteManagementClient as client
            else:
                from azure.mgmt.compute import ComputeManagementClient as client
            self.clients[key] = client(_credential(), subscription)
        return self.clients[key]

    def _target(self, target: str) -> tuple[AzureTarget, Any, str, str]:
        try:
            t = self.azure.targets[target]
        except KeyError:
            raise NotFound(f"no remediation target named {target!r} (SKYLOOP_AZURE_TARGETS)") from None
        sub, group, name = _parts(t.resource_id)
        return t, self._c(t.kind, sub), group, name

    def describe(self, target: str) -> Mapping[str, Any]:
        from azure.core.exceptions import ResourceNotFoundError

        t, c, rg, name = self._target(target)
        out: dict[str, Any] = {"kind": t.kind, "model_group": t.model_group, "actions": ACTIONS[t.kind]}
        try:
            if t.kind == "containerapp":
                app = c.container_apps.get(rg, name)
                out.update(replicas=int(app.template.scale.min_replicas or 0), revision=app.latest_revision_name)
            elif t.kind == "webapp":
                site = c.web_apps.get(rg, name)
                out.update(replicas=1, state=site.state)
            else:
                vmss = c.virtual_machine_scale_sets.get(rg, name)
                out.update(replicas=int(vmss.sku.capacity))
        except ResourceNotFoundError:
            raise NotFound(f"{t.kind} {t.resource_id} not found") from None
        return out

    # -- infrastructure primitives (plans, bounds, model actions and at-most-once are the core's) --
    def set_replicas(self, target: str, replicas: int) -> str:
        t, c, rg, name = self._target(target)
        if t.kind == "containerapp":
            from azure.mgmt.appcontainers import models as m

            app = c.container_apps.get(rg, name)
            ceiling = app.template.scale.max_replicas
            if ceiling is not None and ceiling < replicas:
                ceiling = int(replicas)  # the ceiling may not sit below the floor
            # A JSON merge patch of the scale alone: sending the GET body back carried its secrets
            # without values (GET never returns them), and Container Apps refused it
            # (ContainerAppSecretNull); the patch leaves containers, rules and secrets as they are.
            scale = m.Scale(min_replicas=int(replicas), max_replicas=ceiling)
            patch = m.ContainerApp(location=app.location, properties=m.ContainerAppProperties(template=m.Template(scale=scale)))
            c.container_apps.begin_update(rg, name, patch).result()
            return "Container App minimum replicas"
        if t.kind == "vmss":
            c.virtual_machine_scale_sets.begin_update(rg, name, {"sku": {"capacity": int(replicas)}}).result()
            return "VM Scale Set capacity"
        raise NotFound(f"{target}: an App Service app scales with its plan (describe lists no scale_out)")

    def restart(self, target: str) -> str:
        t, c, rg, name = self._target(target)
        if t.kind == "containerapp":
            revision = c.container_apps.get(rg, name).latest_revision_name
            c.container_apps_revisions.restart_revision(rg, name, revision)
            return f"Container App revision {revision} restarted"
        if t.kind == "webapp":
            c.web_apps.restart(rg, name)
            return "App Service restart"
        c.virtual_machine_scale_sets.begin_restart(rg, name).result()
        return "VM Scale Set restart"

    def clear_cache(self, target: str) -> str:
        raise NotFound(f"{target}: no cache-clearing primitive on Azure (describe lists none)")
