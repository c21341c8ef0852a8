"""The Azure executor's primitives (clouds/azure/executors.py) at the management clients' edge
(no emulator): App Service and VM Scale Sets here, Container Apps in the loop test. The SDK's own
models answer; the plans come from the core (remediation/plans.py), as in production."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("azure.mgmt.compute")

from skyloop.config import GuardrailSettings  # noqa: E402
from skyloop.errors import NotFound, UnknownAction  # noqa: E402
from skyloop.remediation.plans import plan  # noqa: E402

WEB = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/portal"
VMSS = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/batch"


class _Done:
    def result(self) -> None:
        return None


class FakeWeb:
    def __init__(self) -> None:
        from azure.mgmt.web import models

        self.site, self.restarts = models.Site(location="westeurope"), 0
        outer = self

        class WebApps:
            def get(self, rg: str, name: str) -> Any:
                assert (rg, name) == ("rg", "portal")
                return outer.site

            def restart(self, rg: str, name: str, **kw: Any) -> None:
                outer.restarts += 1

        self.web_apps = WebApps()


class FakeCompute:
    def __init__(self) -> None:
        from azure.mgmt.compute import models

        self.vmss = models.VirtualMachineScaleSet(location="westeurope", sku=models.Sku(name="Standard_D2s_v3", capacity=2))
        self.restarts = 0
        outer = self

        class ScaleSets:
            def get(self, rg: str, name: str) -> Any:
                return outer.vmss

            def begin_update(self, rg: str, name: str, update: Any) -> _Done:
                outer.vmss.sku.capacity = update["sku"]["capacity"]
                return _Done()

            def begin_restart(self, rg: str, name: str) -> _Done:
                outer.restarts += 1
                return _Done()

        self.virtual_machine_scale_sets = ScaleSets()


def test_app_service_restarts_and_scale_sets_resize() -> None:
    from skyloop.clouds.azure.config import AzureSettings
    from skyloop.clouds.azure.executors import AzureActionExecutor

    azure = AzureSettings(targets={"portal": {"resource_id": WEB, "kind": "webapp"}, "batch": {"resource_id": VMSS, "kind": "vmss"}})

    web, compute = FakeWeb(), FakeCompute()
    ex = AzureActionExecutor(azure, clients={"webapp": web, "vmss": compute})  # primitives only
    portal = ex.describe("portal")
    assert portal["actions"] == ["restart_service"]
    with pytest.raises(UnknownAction, match="restart_service"):  # its plan scales the App Service plan, not Skyloop
        plan("scale_out", "portal", portal, {}, GuardrailSettings())
    ex.restart("portal")
    assert web.restarts == 1
    batch = ex.describe("batch")
    assert batch["replicas"] == 2
    p = plan("scale_out", "batch", batch, {"step": 2}, GuardrailSettings(max_replicas=5))
    ex.set_replicas("batch", p.args["replicas"])
    assert compute.vmss.sku.capacity == 4 and ex.describe("batch")["replicas"] == 4
    ex.restart("batch")
    assert compute.restarts == 1
    with pytest.raises(NotFound, match="SKYLOOP_AZURE_TARGETS"):
        ex.describe("nope")


def test_container_apps_scale_out_patches_the_scale_alone() -> None:
    """Sending the GET body back carried its secrets without values (GET never returns them), and
    Container Apps refused the update (ContainerAppSecretNull): the patch holds the scale alone."""
    import json

    from azure.mgmt.appcontainers import models as m

    from skyloop.clouds.azure.config import AzureSettings
    from skyloop.clouds.azure.executors import AzureActionExecutor

    app_id = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.App/containerApps/api"
    current = m.ContainerApp(location="westeurope",
                             configuration=m.Configuration(secrets=[m.Secret(name="db-password")]),  # as GET returns it
                             template=m.Template(containers=[m.Container(name="api", image="api:1")],
                                                 scale=m.Scale(min_replicas=1, max_replicas=2)))
    sent: list[dict[str, Any]] = []

    class Apps:
        def get(self, rg: str, name: str) -> Any:
            return current

        def begin_update(self, rg: str, name: str, body: Any) -> _Done:
            sent.append(body.as_dict() if hasattr(body, "as_dict") else dict(body))
            return _Done()

    class Client:
        container_apps = Apps()

    ex = AzureActionExecutor(AzureSettings(targets={"api": {"resource_id": app_id, "kind": "containerapp"}}),
                             clients={"containerapp": Client()})
    ex.set_replicas("api", 3)
    [body] = sent
    assert body["properties"] == {"template": {"scale": {"minReplicas": 3, "maxReplicas": 3}}}, json.dumps(body)
    assert "configuration" not in json.dumps(body) and "secrets" not in json.dumps(body)
