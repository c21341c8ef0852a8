"""SageMaker Model Registry, real-time endpoints and training jobs behind Skyloop's ports.

Registry mapping: a Skyloop model group is a model package group; a version is a
model package version, created ``PendingManualApproval``; approval is
``update_model_package(ModelApprovalStatus="Approved")``, which is also what
makes SageMaker emit the EventBridge "Model Package State Change" the deploy
function listens to. The artifact's sha256 lives in the package's
``CustomerMetadataProperties`` (the registry's word for it); metrics, params and
lineage live in a JSON "card" in S3 whose own sha256 is there too, so neither
can be swapped unnoticed. SageMaker has no aliases: they live in the state table.

Deployer mapping: one endpoint per group; the slots ``staging``, ``canary`` and
``production`` are production variants of it. Staging gets weight 0 (reachable
only with ``TargetVariant``), the canary split is variant weights.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from ..bundles import skyloop_sources, tar_gz
from ...errors import DeploymentFailed, EndpointBusy, ForeignModel, InvalidEvent, NotFound
from ...ports import BlobStore, KeyValueStore, TrainingJob
from ...ports.registry import AliasBook, CardRegistry, ModelVersion, Registration, Status, read_card
from ...ports.artifacts import verified_bytes
from .config import AwsSettings
from .session import client, error_code

_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_TO_SM = {Status.PENDING: "PendingManualApproval", Status.APPROVED: "Approved", Status.REJECTED: "Rejected",
          Status.ARCHIVED: "Rejected"}
SHA_KEY, CARD_KEY, CARD_SHA_KEY, STATUS_KEY = (
    "skyloop:artifact_sha256", "skyloop:card_uri", "skyloop:card_sha256", "skyloop:status")
# On every model package group and package Skyloop creates: the template's roles may describe,
# approve or reject only what carries it (aws:ResourceTag), never another team's models.
MANAGED_TAG = {"Key": "skyloop:managed", "Value": "true"}


def _check_name(group: str) -> str:
    if not _NAME_RE.match(group):
        raise InvalidEvent(f"model group {group!r} is not a valid SageMaker name (letters, digits, '-', <= 63)")
    return group


class SageMakerModelRegistry(CardRegistry):
    def __init__(self, aws: AwsSettings, store: BlobStore, kv: KeyValueStore) -> None:
        self.aws, self.store, self.kv = aws, store, kv
        self.aliases = AliasBook(kv)  # SageMaker's registry has no aliases: the core keeps them
        self.sm = client("sagemaker", aws)
        self._account: str | None = None

    # -- helpers ---------------------------------------------------------------
    def _arn(self, group: str, version: int) -> str:
        if self._account is None:
            self._account = client("sts", self.aws).get_caller_identity()["Account"]
        return f"arn:aws:sagemaker:{self.aws.region}:{self._account}:model-package/{group}/{version}"

    def _ensure_group(self, group: str) -> None:
        try:
            self.sm.describe_model_package_group(ModelPackageGroupName=group)
        except Exception as exc:
            if error_code(exc) not in {"ValidationException", "ResourceNotFound"}:
                raise
            self.sm.create_model_package_group(ModelPackageGroupName=group, Tags=[MANAGED_TAG],
                                               ModelPackageGroupDescription="registered by Skyloop")

    def _to_version(self, d: Mapping[str, Any]) -> ModelVersion:
        meta = d.get("CustomerMetadataProperties") or {}
        if CARD_KEY not in meta or SHA_KEY not in meta:
            raise ForeignModel(f"{d.get('ModelPackageArn', 'this model package')} was not registered by Skyloop")
        card = read_card(self.store, meta[CARD_KEY], str(meta.get(CARD_SHA_KEY)),
                         f"{d['ModelPackageGroupName']} v{d['ModelPackageVersion']}")
        sm_status = d["ModelApprovalStatus"]
        status = Status(meta[STATUS_KEY]) if meta.get(STATUS_KEY) else {
            "PendingManualApproval": Status.PENDING, "Approved": Status.APPROVED, "Rejected": Status.REJECTED}[sm_status]
        if _TO_SM[status] != sm_status:  # approved in the console: SageMaker's status is the truth
            status = {"PendingManualApproval": Status.PENDING, "Approved": Status.APPROVED,
                      "Rejected": Status.REJECTED}[sm_status]
        created = d.get("CreationTime") or datetime.now(timezone.utc)
        return ModelVersion(group=d["ModelPackageGroupName"], version=int(d["ModelPackageVersion"]), status=status,
                            artifact_uri=card["artifact_uri"], artifact_sha256=meta[SHA_KEY], metrics=card["metrics"],
                            params=card["params"], lineage=card["lineage"], created_at=created)

    # -- the primitives CardRegistry's flow calls --------------------------------
    def _check_group(self, group: str) -> None:
        _check_name(group)

    def _create(self, group: str, reg: Registration, *, artifact_uri: str, artifact_sha256: str,
                metrics: Mapping[str, float], lineage: Mapping[str, Any], card_uri: str, card_sha256: str) -> int:
        self._ensure_group(group)
        meta = {SHA_KEY: artifact_sha256, CARD_KEY: card_uri, CARD_SHA_KEY: card_sha256}
        for name, value in sorted(metrics.items())[:40]:
            meta[f"metric:{name}"[:128]] = f"{value:.6g}"
        container = {"Image": self.aws.inference_image, "ModelDataUrl": artifact_uri,
                     "Environment": {"SKYLOOP_ARTIFACT_SHA256": artifact_sha256}}
        args: dict[str, Any] = dict(
            ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval",
            ModelPackageDescription=f"Skyloop {lineage.get('task', 'model')} on {lineage.get('data_sha256', '?')[:12]}",
            InferenceSpecification={"Containers": [container], "SupportedContentTypes": ["application/json"],
                                    "SupportedResponseMIMETypes": ["application/json"],
                                    "SupportedRealtimeInferenceInstanceTypes": [self.aws.instance_type]},
            CustomerMetadataProperties=meta,
            # SageMaker makes the create idempotent on this token; the state-table record
            # (CardRegistry.register) covers a crash between the two and stores without a second package.
            ClientToken=reg.digest[:36],
            Tags=[MANAGED_TAG],  # the roles may read and change only packages that carry it
        )
        if card_uri.startswith("s3://"):
            args["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": card_uri}}}
        arn = self.sm.create_model_package(**args)["ModelPackageArn"]
        return int(arn.rsplit("/", 1)[1])

    def _write_status(self, group: str, version: int, status: Status, *, actor: str, note: str) -> None:
        arn = self._arn(group, version)
        meta = self.sm.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties") or {}
        self.sm.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=_TO_SM[status], ApprovalDescription=f"{actor}: {note}"[:1024],
            # the whole map: SageMaker merges it, moto replaces it; both end up right
            CustomerMetadataProperties={**meta, STATUS_KEY: status.value},
        )

    # -- ModelRegistry port (register and set_status: CardRegistry) -----------------
    def get(self, group: str, version: int) -> ModelVersion:
        try:
            d = self.sm.describe_model_package(ModelPackageName=self._arn(group, version))
        except Exception as exc:
            if error_code(exc) in {"ValidationException", "ResourceNotFound"}:
                raise NotFound(f"model {group} v{version} is not registered") from None
            raise
        return self._to_version(d)

    def _versions_of(self, group: str) -> list[int]:
        out: list[int] = []
        for page in self.sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            out += [int(p["ModelPackageVersion"]) for p in page["ModelPackageSummaryList"] if "ModelPackageVersion" in p]
        return sorted(out)

    def versions(self, group: str | None = None) -> list[ModelVersion]:
        groups = [group] if group else self.groups()
        return [self.get(g, v) for g in groups for v in self._versions_of(g)]

    def groups(self) -> list[str]:
        out: list[str] = []
        for page in self.sm.get_paginator("list_model_package_groups").paginate():
            out += [g["ModelPackageGroupName"] for g in page["ModelPackageGroupSummaryList"]]
        return sorted(out)


def serving_bundle(model_bytes: bytes) -> bytes:
    """model.tar.gz for the scikit-learn container (or Skyloop's serving image): the joblib bundle
    and code/inference.py (``serving/container.py``)."""
    from ...ports.serving import serving_files

    return tar_gz(serving_files(model_bytes))


def serving_sklearn(aws: AwsSettings) -> str | None:
    """The scikit-learn major.minor the inference image runs: stated (``inference_sklearn``) or read
    from the SageMaker scikit-learn image's tag (``sagemaker-scikit-learn:1.2-1-cpu-py3`` -> 1.2)."""
    if aws.inference_sklearn:
        return ".".join(aws.inference_sklearn.split(".")[:2])
    m = re.search(r"sagemaker-scikit-learn:(\d+\.\d+)-", aws.inference_image)
    return m.group(1) if m else None


def check_serving_sklearn(version: ModelVersion, aws: AwsSettings) -> None:
    """A joblib model loads only under the scikit-learn (and numpy) line it was trained with: refuse,
    before any endpoint change, a version the serving image cannot load. An image whose version is
    unknown (a custom one, no ``inference_sklearn``) is the operator's to match."""
    trained = str(version.lineage.get("sklearn_version") or "")
    serving = serving_sklearn(aws)
    if not trained or serving is None:
        return
    if ".".join(trained.split(".")[:2]) != serving:
        raise DeploymentFailed(f"{version.group} v{version.version} was trained with scikit-learn {trained}; the "
                               f"inference image serves {serving} and cannot load it. Point InferenceImage at an "
                               f"image with scikit-learn {'.'.join(trained.split('.')[:2])} (and set "
                               "SKYLOOP_AWS_INFERENCE_SKLEARN), or train with the image's version")


def fit_name(base: str, suffix: str = "", limit: int = 63) -> str:
    """A SageMaker name of at most ``limit`` characters that keeps ``suffix`` and stays distinct:
    cutting at 63 made two groups of 55 characters or more share an endpoint, cut the version off
    model names (v1 and v2 one model) and the unique tail off config names (the rollout then
    crashed, holding the group's lease). A base too long keeps its start and a hash of the whole."""
    if len(base) + len(suffix) <= limit:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[: limit - len(suffix) - len(digest) - 1].rstrip('-')}-{digest}{suffix}"


def serving_model(sm: Any, aws: AwsSettings, store: BlobStore, version: ModelVersion) -> str:
    """The SageMaker model of a version on the serving image (endpoints and Batch Transform share it):
    its bytes checked against the registry's sha256 before they are packed, and the container told
    that sha256, so it refuses any other bytes. Created once; its name says group and version."""
    check_serving_sklearn(version, aws)
    data = verified_bytes(store, version.artifact_uri, version.artifact_sha256,
                          f"artifact of {version.group} v{version.version} does not match the registry's sha256")
    bundle_uri = store.put(f"models/{version.group}/serving/{version.artifact_sha256}.tar.gz", serving_bundle(data))
    name = fit_name(fit_name(f"{aws.endpoint_prefix}-{_check_name(version.group)}"), f"-v{version.version}")
    try:
        sm.create_model(ModelName=name, ExecutionRoleArn=aws.execution_role_arn, PrimaryContainer={
            "Image": aws.inference_image, "ModelDataUrl": bundle_uri,
            "Environment": {"SKYLOOP_ARTIFACT_SHA256": version.artifact_sha256,  # model_fn refuses other bytes
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    except Exception as exc:
        if "already exist" not in str(exc).lower():
            raise
    return name


class SageMakerDeployer:
    """Slots as production variants of one endpoint per model group."""

    def __init__(self, aws: AwsSettings, store: BlobStore, *, wait_seconds: float | None = None) -> None:
        # How long a change may wait for the endpoint's previous update to finish before it
        # starts. 0 in the rollout-step function: its steps poll ``settled`` between changes.
        self.aws, self.store = aws, store
        self.wait_seconds = aws.endpoint_wait_seconds if wait_seconds is None else wait_seconds
        self.sm = client("sagemaker", aws)
        self.runtime = client("sagemaker-runtime", aws)

    def endpoint(self, group: str) -> str:
        return fit_name(f"{self.aws.endpoint_prefix}-{_check_name(group)}")

    def _variants(self, group: str) -> list[dict[str, Any]]:
        try:
            ep = self.sm.describe_endpoint(EndpointName=self.endpoint(group))
        except Exception as exc:
            if error_code(exc) == "ValidationException":
                return []
            raise
        cfg = self.sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
        return list(cfg["ProductionVariants"])

    def _apply(self, group: str, variants: list[dict[str, Any]]) -> None:
        """Start the endpoint's update and return: whoever needs it serving polls ``settled``."""
        name = self.endpoint(group)
        self._await_settled(group)
        if not variants:
            self.sm.delete_endpoint(EndpointName=name)
            return
        config = fit_name(name, f"-{uuid.uuid4().hex[:8]}")
        self.sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=variants,
                                       Tags=[{"Key": "skyloop:group", "Value": group}])
        exists = bool(self._variants(group))
        if exists:
            self.sm.update_endpoint(EndpointName=name, EndpointConfigName=config, RetainAllVariantProperties=False)
        else:
            self.sm.create_endpoint(EndpointName=name, EndpointConfigName=config)

    def settled(self, group: str) -> bool:
        try:
            ep = self.sm.describe_endpoint(EndpointName=self.endpoint(group))
        except Exception as exc:
            if error_code(exc) == "ValidationException":
                return True  # no endpoint: nothing in flight
            raise
        status = ep["EndpointStatus"]
        if status == "Failed":
            # DeleteEndpoint is the only operation SageMaker takes on a Failed endpoint, and it serves
            # nothing: left in place it failed the abort too, and every later rollout of the group,
            # until someone deleted it by hand. Deleted here; whoever polls sees it go, then none.
            self.sm.delete_endpoint(EndpointName=ep["EndpointName"])
            raise DeploymentFailed(f"endpoint {ep['EndpointName']} failed and was deleted: "
                                   f"{ep.get('FailureReason') or 'no reason given'}")
        if status == "OutOfService":
            raise DeploymentFailed(f"endpoint {ep['EndpointName']} is OutOfService: {ep.get('FailureReason', '')}".rstrip(": "))
        return bool(status == "InService")

    def _await_settled(self, group: str) -> None:
        """SageMaker refuses a change while the endpoint updates: wait up to ``wait_seconds`` for
        the previous one, then give up with a transient error (the caller's retry comes back)."""
        deadline = time.monotonic() + self.wait_seconds
        while not self.settled(group):
            if time.monotonic() >= deadline:
                raise EndpointBusy(f"endpoint {self.endpoint(group)} is still applying a change")
            time.sleep(15)

    def _model_for(self, version: ModelVersion) -> str:
        return serving_model(self.sm, self.aws, self.store, version)

    def _weights(self, group: str) -> dict[str, float]:
        """Live weights (set_traffic changes them outside any endpoint config)."""
        try:
            ep = self.sm.describe_endpoint(EndpointName=self.endpoint(group))
        except Exception as exc:
            if error_code(exc) == "ValidationException":
                return {}
            raise
        return {v["VariantName"]: float(v.get("CurrentWeight", v.get("DesiredWeight", 0.0)))
                for v in ep.get("ProductionVariants", [])}

    def deploy(self, group: str, slot: str, version: ModelVersion) -> None:
        model = self._model_for(version)
        weights = self._weights(group)
        variants = self._current(group, exclude=slot, weights=weights)
        # A new slot takes no traffic unless nothing else serves (SageMaker needs some weight > 0).
        weight = weights.get(slot, 0.0) if any(v["InitialVariantWeight"] > 0 for v in variants) else 1.0
        variants.append({"VariantName": slot, "ModelName": model, "InitialInstanceCount": 1,
                         "InstanceType": self.aws.instance_type, "InitialVariantWeight": weight})
        self._apply(group, variants)

    def _current(self, group: str, *, exclude: str, weights: Mapping[str, float]) -> list[dict[str, Any]]:
        """The endpoint's variants minus ``exclude``, each at its live weight: a new endpoint
        config must not silently reset the traffic split set by ``set_traffic``."""
        return [{**v, "InitialVariantWeight": float(weights.get(v["VariantName"], v.get("InitialVariantWeight", 0.0)))}
                for v in self._variants(group) if v["VariantName"] != exclude]

    def undeploy(self, group: str, slot: str) -> None:
        if slot not in self.slots(group):
            return
        rest = self._current(group, exclude=slot, weights=self._weights(group))
        if rest and not any(v["InitialVariantWeight"] > 0 for v in rest):
            (next((v for v in rest if v["VariantName"] == "production"), rest[0]))["InitialVariantWeight"] = 1.0
        self._apply(group, rest)

    def set_traffic(self, group: str, weights: Mapping[str, float]) -> None:
        variants = self._variants(group)
        if not variants:
            return
        self._await_settled(group)
        self.sm.update_endpoint_weights_and_capacities(EndpointName=self.endpoint(group), DesiredWeightsAndCapacities=[
            {"VariantName": v["VariantName"], "DesiredWeight": float(weights.get(v["VariantName"], 0.0))} for v in variants])

    def traffic(self, group: str) -> dict[str, float]:
        w = self._weights(group)
        total = sum(w.values())
        return {k: x / total for k, x in w.items() if x > 0} if total else {}

    def slots(self, group: str) -> dict[str, int]:
        return {v["VariantName"]: int(v["ModelName"].rsplit("-v", 1)[1]) for v in self._variants(group)}

    def predict(self, group: str, rows: Sequence[Mapping[str, Any]], slot: str | None = None) -> list[Any]:
        args: dict[str, Any] = {"EndpointName": self.endpoint(group), "ContentType": "application/json",
                                "Accept": "application/json", "Body": json.dumps({"rows": list(rows)}, default=str)}
        if slot:
            args["TargetVariant"] = slot
        body = self.runtime.invoke_endpoint(**args)["Body"].read()
        try:
            doc = json.loads(body)
        except ValueError:
            raise DeploymentFailed(f"endpoint {args['EndpointName']} answered with non-JSON") from None
        return list(doc["predictions"] if isinstance(doc, dict) else doc)


# SageMaker script mode -> the neutral job entry: the train channel, the model directory and the
# hyperparameters (each value JSON text) come from SM_* variables the container sets.
SCRIPT_MODE_ENTRY = b"""import json, os
from pathlib import Path

from skyloop.training.entry import run

run(Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")),
    Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")),
    json.loads(os.environ.get("SM_HPS") or "{}"))
"""


class SageMakerTrainingBackend:
    """Datasets above the in-function size rule: a SageMaker training job running
    ``skyloop.training.entry.run``, on Skyloop's serving image (its ``train`` mode, the default)
    or in script mode on a scikit-learn framework image. boto3 only: the ``sagemaker`` SDK stays
    out of every Lambda."""

    name = "sagemaker"
    ENTRY = "skyloop_entry.py"

    def __init__(self, aws: AwsSettings, store: BlobStore) -> None:
        self.aws, self.store = aws, store
        self.sm = client("sagemaker", aws)

    def source_bundle(self) -> bytes:
        """sourcedir.tar.gz: this very skyloop package, the entry script, and what the
        framework image lacks (requirements.txt, pip-installed by the container)."""
        files = skyloop_sources()
        files[self.ENTRY] = SCRIPT_MODE_ENTRY
        files["requirements.txt"] = b"pydantic>=2.6\n"
        return tar_gz(files)

    def submit(self, dataset_uri: str, spec: Mapping[str, Any]) -> TrainingJob:
        bundle = self.source_bundle()
        code_uri = self.store.put(f"training-code/{hashlib.sha256(bundle).hexdigest()}.tar.gz", bundle)
        params = json.dumps(dict(spec.get("params") or {}), sort_keys=True)
        # same dataset + spec + code -> same job name: a redelivered upload cannot start a second job
        digest = hashlib.sha256(f"{dataset_uri}|{spec.get('target')}|{spec.get('model_group')}|{params}|{code_uri}".encode())
        job = f"skyloop-{digest.hexdigest()[:24]}"
        hyper = {"sagemaker_program": self.ENTRY, "sagemaker_submit_directory": code_uri,
                 "source_uri": dataset_uri, "target": str(spec.get("target") or ""),
                 "model_group": str(spec.get("model_group") or ""), "params": params}
        try:
            self.sm.create_training_job(
                TrainingJobName=job, RoleArn=self.aws.execution_role_arn,
                # script mode: the container json-decodes each value, so each is JSON text
                HyperParameters={k: json.dumps(v) for k, v in hyper.items()},
                AlgorithmSpecification={"TrainingImage": self.aws.training_image, "TrainingInputMode": "File"},
                InputDataConfig=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": dataset_uri, "S3DataDistributionType": "FullyReplicated"}}},
                    # Skyloop's image (infra/aws/serving/serve.py train) takes the code as a channel:
                    # it has no S3 client of its own; a framework image ignores it
                    {"ChannelName": "code", "ContentType": "application/gzip", "DataSource": {"S3DataSource": {
                        "S3DataType": "S3Prefix", "S3Uri": code_uri, "S3DataDistributionType": "FullyReplicated"}}}],
                OutputDataConfig={"S3OutputPath": self.aws.training_output or f"s3://{self.aws.bucket}/training-jobs/"},
                ResourceConfig={"InstanceType": self.aws.training_instance_type, "InstanceCount": 1,
                                "VolumeSizeInGB": self.aws.training_volume_gb},
                StoppingCondition={"MaxRuntimeInSeconds": self.aws.training_max_seconds},
                Tags=[{"Key": "skyloop:source", "Value": dataset_uri[:256]}],
            )
        except Exception as exc:
            if "already" not in str(exc).lower():  # ResourceInUse: the job exists, report it
                raise
        status = self.sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"]
        return TrainingJob(backend=self.name, job_id=job, status=status)
