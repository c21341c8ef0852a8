"""Remediation on Google Cloud: Cloud Run services and Managed Instance Groups (primitives only).

- Cloud Run: ``replicas`` is the service's minimum instance count (Cloud Run scales above it on
  its own), so scale-out raises the floor; a restart is a new revision from the same template
  (an annotation records when), which replaces every instance.
- A Managed Instance Group: ``replicas`` is its target size (``resize``); a restart is a
  proactive rolling replace, as ``gcloud compute instance-groups managed rolling-action
  replace`` does (the same template under a new version name).
- A Vertex AI endpoint Skyloop deployed is no target here: rollback and canary abort are model
  actions the core carries out through the registry and the deployer; a service with
  ``model_group`` names the model it serves for them.

No cache-clearing primitive: neither platform has one (the plan refuses it by ``actions``).
Every call waits for its operation: the core records the effect only after it is in place.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Mapping

from ...errors import AccessDenied, NotFound
from .config import GcpSettings, GcpTarget

RESTART_ANNOTATION = "skyloop.dev/restarted-at"


@lru_cache(maxsize=None)
def _client(kind: str) -> Any:
    if kind == "run":
        from google.cloud import run_v2  # lazy: the core never imports google

        return run_v2.ServicesClient()
    from google.cloud import compute_v1

    return compute_v1.RegionInstanceGroupManagersClient() if kind == "regional-mig" else compute_v1.InstanceGroupManagersClient()


def _mig_address(name: str) -> tuple[str, dict[str, str]]:
    """projects/p/zones/z/instanceGroupManagers/m -> ("mig", {project, zone, instance_group_manager})."""
    parts = name.strip("/").split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] not in ("zones", "regions") or parts[4] != "instanceGroupManagers":
        raise NotFound(f"{name!r} is not projects/<p>/zones|regions/<z>/instanceGroupManagers/<m>")
    where = "zone" if parts[2] == "zones" else "region"
    return ("mig" if where == "zone" else "regional-mig"), {"project": parts[1], where: parts[3], "instance_group_manager": parts[5]}


class GcpActionExecutor:
    def __init__(self, gcp: GcpSettings, *, clients: Mapping[str, Any] | None = None) -> None:
        self.gcp = gcp
        self.clients = dict(clients or {})

    def _c(self, kind: str) -> Any:
        if kind not in self.clients:
            self.clients[kind] = _client(kind)
        return self.clients[kind]

    def _target(self, target: str) -> GcpTarget:
        try:
            return self.gcp.targets[target]
        except KeyError:
            raise NotFound(f"no remediation target named {target!r} (SKYLOOP_GCP_TARGETS)") from None

    def _wait(self, operation: Any) -> None:
        operation.result(timeout=self.gcp.operation_timeout_seconds)

    def describe(self, target: str) -> Mapping[str, Any]:
        from google.api_core import exceptions as gexc

        t = self._target(target)
        out: dict[str, Any] = {"model_group": t.model_group}
        try:
            if t.kind == "cloud-run":
                svc = self._c("run").get_service(request={"name": t.name})
                out.update(kind="cloud-run", replicas=int(svc.scaling.min_instance_count),
                           revision=svc.latest_ready_revision.rsplit("/", 1)[-1], actions=["scale_out", "restart_service"])
            else:
                kind, address = _mig_address(t.name)
                mig = self._c(kind).get(request=address)
                out.update(kind="mig", replicas=int(mig.target_size), template=mig.instance_template,
                           actions=["scale_out", "restart_service"])
        except gexc.NotFound:
            raise NotFound(f"{t.kind} {t.name} not found") from None
        except gexc.PermissionDenied:  # retried, it was denied again each time and then lost
            perm = "run.services.get" if t.kind == "cloud-run" else "compute.instanceGroupManagers.get"
            raise AccessDenied(f"this function's service account may not read {t.kind} {t.name}: it needs {perm} "
                               "(infra/gcp/iam.tf grants it for every target in var.targets)") from None
        return out

    # -- infrastructure primitives (plans, bounds, model actions and at-most-once are the core's) --
    def set_replicas(self, target: str, replicas: int) -> str:
        from google.cloud import run_v2
        from google.protobuf import field_mask_pb2

        t = self._target(target)
        if t.kind == "cloud-run":
            svc = self._c("run").get_service(request={"name": t.name})
            scaling = run_v2.ServiceScaling(min_instance_count=int(replicas))
            if svc.scaling.max_instance_count and svc.scaling.max_instance_count < replicas:
                scaling.max_instance_count = int(replicas)  # the ceiling may not sit below the floor
            self._wait(self._c("run").update_service(request=run_v2.UpdateServiceRequest(
                service=run_v2.Service(name=t.name, scaling=scaling),
                update_mask=field_mask_pb2.FieldMask(paths=["scaling"]))))
            return "Cloud Run minimum instances"
        kind, address = _mig_address(t.name)
        self._wait(self._c(kind).resize(request={**address, "size": int(replicas)}))
        return "MIG resize"

    def restart(self, target: str) -> str:
        from google.cloud import compute_v1, run_v2
        from google.protobuf import field_mask_pb2

        t = self._target(target)
        stamp = str(int(time.time()))
        if t.kind == "cloud-run":
            svc = self._c("run").get_service(request={"name": t.name})
            template = run_v2.RevisionTemplate(svc.template)
            template.annotations[RESTART_ANNOTATION] = stamp
            template.revision = ""  # a new revision name, made by Cloud Run
            self._wait(self._c("run").update_service(request=run_v2.UpdateServiceRequest(
                service=run_v2.Service(name=t.name, template=template),
                update_mask=field_mask_pb2.FieldMask(paths=["template"]))))
            return "Cloud Run new revision"
        kind, address = _mig_address(t.name)
        mig = self._c(kind).get(request=address)
        self._wait(self._c(kind).patch(request={**address, "instance_group_manager_resource": compute_v1.InstanceGroupManager(
            versions=[compute_v1.InstanceGroupManagerVersion(instance_template=mig.instance_template, name=f"0-{stamp}")],
            update_policy=compute_v1.InstanceGroupManagerUpdatePolicy(type_="PROACTIVE", minimal_action="REPLACE"))}))
        return "MIG rolling replace"

    def clear_cache(self, target: str) -> str:
        raise NotFound(f"{target}: no cache-clearing primitive on Google Cloud (describe lists none)")
