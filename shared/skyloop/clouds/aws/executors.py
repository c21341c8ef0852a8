"""Remediation on AWS: ECS services (scale out, restart), an SSM Run Command document
(clear cache), and SageMaker endpoints (roll back to the previous production version,
abort a canary by putting the variant weights back on production).

A SageMaker endpoint that Skyloop deployed is a target by its own name, with no entry in
``SKYLOOP_AWS_TARGETS``: its endpoint config carries the ``skyloop:group`` tag. That is
the service name the per-variant metrics arrive under (their ``EndpointName`` dimension).

Only primitives live here. The core plans each action as an absolute end state
(desiredCount = 6), claims the plan under the request id and only then calls a primitive
(``remediation/plans.py``, ``applied.py``); rollback and canary abort on an endpoint are model
actions the core carries out through the registry and the SageMaker deployer.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...errors import NotFound
from ...ports import Deployer
from .config import AwsSettings
from .session import client, error_code


class AwsActionExecutor:
    def __init__(self, aws: AwsSettings, *, deployer: Deployer) -> None:
        self.aws, self.deployer = aws, deployer
        self.ecs = client("ecs", aws)
        self.ssm = client("ssm", aws)
        self.sm = client("sagemaker", aws)

    def _target(self, target: str):  # noqa: ANN202 - EcsTarget
        try:
            return self.aws.targets[target]
        except KeyError:
            raise NotFound(f"no remediation target named {target!r} (SKYLOOP_AWS_TARGETS)") from None

    def _endpoint_group(self, target: str) -> str | None:
        """The model group of a Skyloop endpoint named ``target``; None if there is none."""
        if not target.startswith(f"{self.aws.endpoint_prefix}-"):
            return None
        try:
            ep = self.sm.describe_endpoint(EndpointName=target)
            arn = self.sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])["EndpointConfigArn"]
        except Exception as exc:
            if error_code(exc) == "ValidationException":  # no such endpoint
                return None
            raise
        tags = self.sm.list_tags(ResourceArn=arn).get("Tags", [])
        return next((t["Value"] for t in tags if t["Key"] == "skyloop:group"), None)

    def describe(self, target: str) -> Mapping[str, Any]:
        if target not in self.aws.targets:
            group = self._endpoint_group(target)
            if group is None:
                raise NotFound(f"no remediation target named {target!r} (SKYLOOP_AWS_TARGETS, or a Skyloop endpoint)")
            # its scaling is Application Auto Scaling's: Skyloop only acts on its model
            return {"kind": "sagemaker-endpoint", "model_group": group, "traffic": self.deployer.traffic(group),
                    "actions": []}
        t = self._target(target)
        res = self.ecs.describe_services(cluster=t.cluster, services=[t.service])
        if not res.get("services"):
            raise NotFound(f"ECS service {t.service} not found in cluster {t.cluster}")
        svc = res["services"][0]
        deployments = svc.get("deployments", [])
        out: dict[str, Any] = {"kind": "ecs", "replicas": int(svc["desiredCount"]), "running": int(svc.get("runningCount", 0)),
                               "deployments": len(deployments),
                               "model_group": t.model_group, "actions": ["scale_out", "restart_service", "clear_cache"]}
        return out

    # -- infrastructure primitives (plans, bounds, model actions and at-most-once are the core's) --
    def set_replicas(self, target: str, replicas: int) -> str:
        t = self._target(target)
        self.ecs.update_service(cluster=t.cluster, service=t.service, desiredCount=int(replicas))
        return ""

    def restart(self, target: str) -> str:
        t = self._target(target)
        self.ecs.update_service(cluster=t.cluster, service=t.service, forceNewDeployment=True)
        return "ECS force new deployment"

    def clear_cache(self, target: str) -> str:
        self._target(target)
        res = self.ssm.send_command(DocumentName=self.aws.clear_cache_document, Comment=f"skyloop clear_cache {target}"[:100],
                                    Targets=[{"Key": "tag:skyloop:service", "Values": [target]}])
        return f"SSM document {self.aws.clear_cache_document}, command {res['Command']['CommandId']}"
