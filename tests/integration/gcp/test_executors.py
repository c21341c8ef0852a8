"""The Google Cloud executor's primitives (clouds/gcp/executors.py) at the transport edge: Cloud
Run's ServicesClient and Compute's InstanceGroupManagersClient have no emulator, so each is a
fake that takes the SDK's own request types and applies an update mask as the service does. The
plans come from the core (remediation/plans.py), as in production."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("google.cloud.run_v2")
pytest.importorskip("google.cloud.compute_v1")

from google.api_core import exceptions as gexc  # noqa: E402
from google.cloud import compute_v1, run_v2  # noqa: E402

from skyloop.config import GuardrailSettings  # noqa: E402
from skyloop.errors import GuardrailViolation, NotFound, UnknownAction  # noqa: E402
from skyloop.remediation.plans import plan  # noqa: E402

RUN = "projects/p/locations/us-central1/services/api"
MIG = "projects/p/zones/us-central1-a/instanceGroupManagers/batch"


class _Done:
    def result(self, timeout: float | None = None) -> None:
        return None


class FakeRun:
    def __init__(self) -> None:
        self.service = run_v2.Service(name=RUN, latest_ready_revision=f"{RUN}/revisions/api-00001-abc",
                                      scaling=run_v2.ServiceScaling(min_instance_count=1, max_instance_count=3),
                                      template=run_v2.RevisionTemplate(containers=[run_v2.Container(image="img:1")]))
        self.revisions = 1

    def get_service(self, request: Any) -> run_v2.Service:
        name = request["name"] if isinstance(request, dict) else request.name
        if name != RUN:
            raise gexc.NotFound(name)
        return run_v2.Service(self.service)

    def update_service(self, request: run_v2.UpdateServiceRequest) -> _Done:
        assert isinstance(request, run_v2.UpdateServiceRequest) and request.service.name == RUN
        for path in request.update_mask.paths:
            setattr(self.service, path, getattr(request.service, path))
            if path == "template":
                assert request.service.template.containers, "a template update keeps the containers"
                self.revisions += 1
                self.service.latest_ready_revision = f"{RUN}/revisions/api-{self.revisions:05d}-xyz"
        return _Done()


class FakeMigs:
    def __init__(self) -> None:
        self.mig = compute_v1.InstanceGroupManager(name="batch", target_size=2, instance_template="global/instanceTemplates/t1")
        self.patches: list[Any] = []

    def get(self, request: Any) -> compute_v1.InstanceGroupManager:
        assert request == {"project": "p", "zone": "us-central1-a", "instance_group_manager": "batch"}
        return compute_v1.InstanceGroupManager(self.mig)

    def resize(self, request: Any) -> _Done:
        r = compute_v1.ResizeInstanceGroupManagerRequest(**request)
        self.mig.target_size = r.size
        return _Done()

    def patch(self, request: Any) -> _Done:
        r = compute_v1.PatchInstanceGroupManagerRequest(**request)
        self.patches.append(r.instance_group_manager_resource)
        return _Done()


@pytest.fixture
def executor() -> Any:
    from skyloop.clouds.gcp.config import GcpSettings
    from skyloop.clouds.gcp.executors import GcpActionExecutor

    gcp = GcpSettings(targets={"api": {"kind": "cloud-run", "name": RUN, "model_group": "churn"},
                               "batch": {"kind": "mig", "name": MIG}})

    run, migs = FakeRun(), FakeMigs()
    ex = GcpActionExecutor(gcp, clients={"run": run, "mig": migs})  # primitives only: no registry, no policy
    return ex, run, migs


def test_cloud_run_scale_out_raises_the_floor_and_restart_makes_a_revision(executor: Any) -> None:
    ex, run, _ = executor
    before = ex.describe("api")
    assert (before["kind"], before["replicas"], before["model_group"], before["revision"]) == ("cloud-run", 1, "churn", "api-00001-abc")
    p = plan("scale_out", "api", before, {"step": 3}, GuardrailSettings(max_replicas=4))
    assert p.args == {"replicas": 4}
    ex.set_replicas("api", 4)
    assert (run.service.scaling.min_instance_count, run.service.scaling.max_instance_count) == (4, 4)
    assert run.service.template.containers[0].image == "img:1"  # scaling alone changes no revision
    ex.restart("api")
    assert ex.describe("api")["revision"] == "api-00002-xyz"
    assert "skyloop.dev/restarted-at" in run.service.template.annotations
    with pytest.raises(GuardrailViolation, match="max replicas"):
        plan("scale_out", "api", ex.describe("api"), {}, GuardrailSettings(max_replicas=4))
    with pytest.raises(UnknownAction, match="supports scale_out, restart_service"):
        plan("clear_cache", "api", ex.describe("api"), {}, GuardrailSettings())


def test_a_managed_instance_group_resizes_and_rolls(executor: Any) -> None:
    ex, _, migs = executor
    assert ex.describe("batch")["replicas"] == 2
    ex.set_replicas("batch", 3)
    assert ex.describe("batch")["replicas"] == 3
    ex.restart("batch")
    [patch] = migs.patches
    assert (patch.update_policy.type_, patch.update_policy.minimal_action) == ("PROACTIVE", "REPLACE")
    assert patch.versions[0].instance_template == "global/instanceTemplates/t1" and patch.versions[0].name.startswith("0-")


def test_unknown_targets_and_names(executor: Any) -> None:
    from skyloop.clouds.gcp.executors import _mig_address

    ex, _, _ = executor
    with pytest.raises(NotFound, match="SKYLOOP_GCP_TARGETS"):
        ex.describe("nope")
    with pytest.raises(NotFound, match="instanceGroupManagers"):
        _mig_address("projects/p/zones/z/instances/x")
    assert _mig_address("projects/p/regions/r/instanceGroupManagers/m") == (
        "regional-mig", {"project": "p", "region": "r", "instance_group_manager": "m"})


def test_a_denied_describe_is_a_named_permanent_refusal(executor: Any) -> None:
    """detect's account could not read its targets: PermissionDenied was retried, then the incident
    was lost. Now it names the permission, is not retried, and costs RCA its context only."""
    from google.api_core import exceptions as gexc

    from skyloop.errors import AccessDenied

    ex, run, migs = executor

    def denied(request: Any) -> Any:
        raise gexc.PermissionDenied("Permission 'run.services.get' denied on resource")

    run.get_service = denied
    migs.get = denied
    with pytest.raises(AccessDenied, match="needs run.services.get") as exc:
        ex.describe("api")
    assert not exc.value.retryable
    with pytest.raises(AccessDenied, match="needs compute.instanceGroupManagers.get"):
        ex.describe("batch")
