"""Remediation on AWS: ECS services (scale out, restart), an SSM Run Command document
(clear cache), and SageMaker endpoints (roll back to the previous production version,
abort a canary by putting the variant weights back on production).

A SageMaker endpoint that Skyloop deployed is a target by its own name, with no entry in
``SKYLOOP_AWS_TARGETS``: its endpoint config carries the ``skyloop:group`` tag. That is
the service name the per-variant metrics arrive under (their ``EndpointName`` dimension).

AWS calls are not transactional with Skyloop's bookkeeping, so each action is
*planned* as an absolute end state (desiredCount = 6, production = v3), the plan
is claimed under the request id in the state table, and only then applied.
A redelivery after a crash re-applies the same absolute state, which changes
nothing the second time; a redelivery after completion returns the first result.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from ...config import GuardrailSettings
from ...deployment import abort_canary, rollback_production
from ...errors import GuardrailViolation, NotFound, UnknownAction
from ...ports import ActionResult, Clock, Deployer, KeyValueStore, ModelRegistry
from .config import AwsSettings
from .session import client, error_code


class AwsActionExecutor:
    def __init__(self, aws: AwsSettings, *, registry: ModelRegistry, deployer: Deployer, kv: KeyValueStore,
                 clock: Clock, policy: GuardrailSettings) -> None:
        self.aws, self.registry, self.deployer, self.kv, self.clock, self.policy = aws, registry, deployer, kv, clock, policy
        self.ecs = client("ecs", aws)
        self.ssm = client("ssm", aws)
        self.ddb = client("dynamodb", aws)
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
            prod = self.registry.alias(group, "production")
            return {"kind": "sagemaker-endpoint", "model_group": group, "traffic": self.deployer.traffic(group),
                    "model_version": None if prod is None else prod.version}
        t = self._target(target)
        res = self.ecs.describe_services(cluster=t.cluster, services=[t.service])
        if not res.get("services"):
            raise NotFound(f"ECS service {t.service} not found in cluster {t.cluster}")
        svc = res["services"][0]
        deployments = svc.get("deployments", [])
        out: dict[str, Any] = {"kind": "ecs", "replicas": int(svc["desiredCount"]), "running": int(svc.get("runningCount", 0)),
                               "max_replicas": self.policy.max_replicas, "deployments": len(deployments),
                               "model_group": t.model_group}
        if t.model_group:
            prod = self.registry.alias(t.model_group, "production")
            out["model_version"] = None if prod is None else prod.version
        return out

    # -- exactly once ------------------------------------------------------------
    def _key(self, request_id: str) -> dict[str, Any]:
        return {"pk": {"S": "applied"}, "sk": {"S": request_id}}

    def applied(self, request_id: str) -> ActionResult | None:
        item = self.ddb.get_item(TableName=self.aws.state_table, Key=self._key(request_id), ConsistentRead=True).get("Item")
        if item is None or "result" not in item:
            return None
        r = json.loads(item["result"]["S"])
        return ActionResult(True, r["detail"], r["before"], r["after"], replayed=True)

    def _claim(self, request_id: str, plan: Mapping[str, Any]) -> dict[str, Any]:
        """Record the plan once; a second claim gets the first plan back (to re-apply it)."""
        try:
            self.ddb.put_item(TableName=self.aws.state_table, Item={**self._key(request_id), "plan": {"S": json.dumps(plan)}},
                              ConditionExpression="attribute_not_exists(sk)")
            return dict(plan)
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        item = self.ddb.get_item(TableName=self.aws.state_table, Key=self._key(request_id), ConsistentRead=True)["Item"]
        return json.loads(item["plan"]["S"])

    def _done(self, request_id: str, result: ActionResult) -> ActionResult:
        self.ddb.update_item(TableName=self.aws.state_table, Key=self._key(request_id), UpdateExpression="SET #r = :r",
                             ExpressionAttributeNames={"#r": "result"}, ExpressionAttributeValues={":r": {"S": json.dumps(
                                 {"detail": result.detail, "before": dict(result.before), "after": dict(result.after)},
                                 default=str)}})
        return result

    # -- actions -------------------------------------------------------------------
    def execute(self, action: str, target: str, params: Mapping[str, Any], *, dry_run: bool,
                request_id: str | None = None) -> ActionResult:
        if request_id is not None and not dry_run:
            prior = self.applied(request_id)
            if prior is not None:
                return prior
        before = dict(self.describe(target))
        plan = self._plan(action, target, params, before)
        if action == "notify":
            return ActionResult(False, f"on-call notified about {target}", before, before)
        if dry_run:
            return ActionResult(False, "would: " + plan["detail"], before, {**before, **plan.get("after", {})})
        if request_id is not None:
            plan = self._claim(request_id, plan)
        result = self._apply(action, target, plan, before)
        return self._done(request_id, result) if request_id is not None else result

    def _plan(self, action: str, target: str, params: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
        if before.get("kind") == "sagemaker-endpoint" and action not in ("rollback_deployment", "abort_canary", "notify"):
            raise UnknownAction(f"{target} is a SageMaker endpoint: Skyloop rolls back or aborts a canary there; "
                                f"{action} is for its application auto scaling or an operator")
        if action == "scale_out":
            new = min(before["replicas"] + int(params.get("step") or self.policy.scale_step), self.policy.max_replicas)
            if new <= before["replicas"]:
                raise GuardrailViolation(f"{target} is at max replicas ({before['replicas']})")
            return {"detail": f"replicas {before['replicas']} -> {new}", "after": {"replicas": new}}
        if action == "restart_service":
            return {"detail": f"rolling restart of {before['replicas']} tasks (ECS force new deployment)"}
        if action == "clear_cache":
            return {"detail": f"cache cleared by SSM document {self.aws.clear_cache_document}"}
        if action == "rollback_deployment":
            if not before.get("model_group"):
                raise UnknownAction(f"{target} serves no model; nothing to roll back")
            return {"detail": f"roll back {before['model_group']} from v{before.get('model_version')}",
                    "from": before.get("model_version")}
        if action == "abort_canary":
            if not before.get("model_group"):
                raise UnknownAction(f"{target} serves no model; no canary to abort")
            return {"detail": f"abort the canary of {before['model_group']} (variant weights back on production)",
                    "version": params.get("version")}
        if action == "notify":
            return {"detail": "notify"}
        raise UnknownAction(f"the AWS executor cannot {action!r}")

    def _apply(self, action: str, target: str, plan: Mapping[str, Any], before: dict[str, Any]) -> ActionResult:
        if action in ("rollback_deployment", "abort_canary"):
            return self._model_action(action, target, plan, before)
        t = self._target(target)
        if action == "scale_out":  # absolute count: re-applying after a crash changes nothing
            self.ecs.update_service(cluster=t.cluster, service=t.service, desiredCount=plan["after"]["replicas"])
        elif action == "restart_service":
            self.ecs.update_service(cluster=t.cluster, service=t.service, forceNewDeployment=True)
        elif action == "clear_cache":
            res = self.ssm.send_command(DocumentName=self.aws.clear_cache_document, Comment=f"skyloop clear_cache {target}"[:100],
                                        Targets=[{"Key": "tag:skyloop:service", "Values": [target]}])
            plan = {**plan, "detail": f"{plan['detail']} (command {res['Command']['CommandId']})"}
        return ActionResult(True, plan["detail"], before, dict(self.describe(target)))

    def _model_action(self, action: str, target: str, plan: Mapping[str, Any], before: dict[str, Any]) -> ActionResult:
        group = str(before["model_group"])
        if action == "abort_canary":  # idempotent by itself: a second abort finds no live canary
            changed, detail = abort_canary(group, plan.get("version"), deployer=self.deployer, registry=self.registry,
                                           kv=self.kv, clock=self.clock, reason=f"abort_canary on {target}")
            return ActionResult(changed, detail, before, dict(self.describe(target)), replayed=not changed)
        current = self.registry.alias(group, "production")
        if current is not None and current.version != plan.get("from"):
            # a redelivery: the first attempt already rolled back; do not roll back twice
            return ActionResult(True, f"{group} already rolled back to v{current.version}", before,
                                dict(self.describe(target)), replayed=True)
        frm, to = rollback_production(group, deployer=self.deployer, registry=self.registry, kv=self.kv,
                                      clock=self.clock, reason=f"rolled back by remediation on {target}")
        return ActionResult(True, f"{group} rolled back v{frm} -> v{to}", before, dict(self.describe(target)))
