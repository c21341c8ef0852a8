"""Azure Machine Learning behind Skyloop's registry, deployer and training ports (azure-ai-ml v2).

**Registry.** A model group is an Azure ML model name; a Skyloop version is a model version,
registered with the serving folder (``model.joblib``) as its path. Azure ML has no approval state
(``../shared/cloud-facts.md``): the status lives in the version's ``skyloop-status`` tag, and an
approved version also carries ``approval=approved``, the tag Event Grid's ``ModelRegistered``
filter and the decoder look for; a pending version registered with that tag (by a pipeline that
registers pre-approved models) is approved. Tag edits emit no event, so Skyloop's own approval
reaches deploy through its own ``ModelVersionApproved`` on the events topic. The artifact's and
the card's sha256 ride in tags; a swapped card is an integrity error.

**Deployer.** One managed online endpoint per group; each slot is a deployment of that name
(``production``, ``canary``, ``staging``), blue/green style, with the canary's share in the
endpoint's ``traffic`` and staging at 0 % but invoked directly by deployment name. A slot's new
version is a rolling update of its deployment. The scoring script (``init``/``run``) is Skyloop's
serving core plus Azure's contract, and refuses any ``model.joblib`` but the one whose sha256 the
registry vouches for. Nothing waits for a provisioning: ``settled`` reads the states.

**Training.** A command job runs the cloud-neutral job program (``clouds/jobs.py``) with the
dataset and the code as inputs, and its result folder as an output on the datasets container's
datastore, so the result's BlobCreated event is the job's completion.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from ...errors import DeploymentFailed, EndpointBusy, ForeignModel, InvalidEvent, NotFound
from ...ports import BlobStore, KeyValueStore, TrainingJob
from ...ports.registry import AliasBook, CardRegistry, ModelVersion, Registration, Status, read_card
from ..traffic import percentages
from ..jobs import JOB_SCRIPT, job_key, job_spec, result_folder, upload_code
from ...ports.artifacts import verified_bytes
from .config import AzureSettings

STATUS_TAG, IDEM_TAG, APPROVAL_TAG = "skyloop-status", "skyloop-idem", "approval"
CARD_TAG, CARD_SHA_TAG, SHA_TAG = "skyloop-card-uri", "skyloop-card-sha256", "skyloop-artifact-sha256"
SCORE = "score.py"

# Azure ML's scoring contract, appended to the serving core and its container contract
# (serving/container.py): init() finds model.joblib under AZUREML_MODEL_DIR, run() answers.
AZURE_CONTRACT = b"""

# ---- Azure ML scoring contract (appended by skyloop.clouds.azure) ----
_BUNDLE = None


def init():
    global _BUNDLE
    root = os.environ.get("AZUREML_MODEL_DIR", ".")
    folders = [d for d, _, files in os.walk(root) if MODEL_FILE in files]
    if len(folders) != 1:
        raise RuntimeError(f"expected one {MODEL_FILE} under {root}, found {len(folders)}")
    _BUNDLE = model_fn(folders[0])


def run(raw_data):
    return json.loads(output_fn(predict_fn(input_fn(raw_data), _BUNDLE)))
"""


def scoring_script() -> bytes:
    from ...ports.serving import PROGRAM, serving_files

    return serving_files(b"")[PROGRAM] + AZURE_CONTRACT


@lru_cache(maxsize=None)
def ml_client(subscription_id: str, resource_group: str, workspace: str) -> Any:
    from azure.ai.ml import MLClient  # lazy: the core never imports azure

    from .storage import _credential

    return MLClient(_credential(), subscription_id, resource_group, workspace)


def _client(azure: AzureSettings) -> Any:
    return ml_client(azure.subscription_id, azure.resource_group, azure.workspace)


def datastore_path(azure: AzureSettings, store: BlobStore, uri: str) -> str:
    """``uri`` (a blob in the datasets container) as Azure ML reads it: through the workspace's
    datastore, with the reader's own identity. The account takes no shared keys, so an https URL
    gave Azure ML no way to read it."""
    if uri.startswith("azureml://"):
        return uri
    locate = getattr(store, "locate", None)
    container, name = locate(uri) if locate else (azure.container, uri.lstrip("/"))
    if container != azure.container:
        raise InvalidEvent(f"{uri} is outside the {azure.container} container, which Azure ML reads through the "
                           f"{azure.datastore} datastore; copy it there")
    return f"azureml://datastores/{azure.datastore}/paths/{name}"


def _not_found(exc: BaseException) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


class AzureMLRegistry(CardRegistry):
    def __init__(self, azure: AzureSettings, store: BlobStore, kv: KeyValueStore, client: Any = None) -> None:
        self.azure, self.store, self.kv = azure, store, kv
        self.aliases = AliasBook(kv)
        self.client = client or _client(azure)

    def _to_version(self, m: Any) -> ModelVersion:
        tags = dict(m.tags or {})
        if CARD_TAG not in tags or SHA_TAG not in tags:
            raise ForeignModel(f"{m.name}:{m.version} was not registered by Skyloop")
        card = read_card(self.store, tags[CARD_TAG], str(tags.get(CARD_SHA_TAG)), f"{m.name} v{m.version}")
        status = Status(str(tags.get(STATUS_TAG, "pending")).upper())
        if status is Status.PENDING and str(tags.get(APPROVAL_TAG, "")).lower() == "approved":
            status = Status.APPROVED
        created = getattr(getattr(m, "creation_context", None), "created_at", None)
        return ModelVersion(group=m.name, version=int(m.version), status=status, artifact_uri=card["artifact_uri"],
                            artifact_sha256=tags[SHA_TAG], metrics=card["metrics"], params=card["params"],
                            lineage=card["lineage"],
                            created_at=created if isinstance(created, datetime) else datetime.now(timezone.utc))

    def _all(self, group: str) -> list[Any]:
        try:
            return list(self.client.models.list(name=group))
        except Exception as exc:
            if _not_found(exc):
                return []
            raise

    def _serving_folder(self, group: str, artifact_uri: str, artifact_sha256: str) -> str:
        data = verified_bytes(self.store, artifact_uri, artifact_sha256,
                              f"artifact {artifact_uri} does not match the sha256 it is registered with")
        uri = self.store.put(f"models/{group}/serving/{artifact_sha256}/model.joblib", data)
        return uri.rsplit("/", 1)[0]

    # -- the primitives CardRegistry's flow calls --------------------------------
    def _check_group(self, group: str) -> None:
        if not group or len(group) > 255 or not group[0].isalnum():
            raise InvalidEvent(f"model group {group!r} is not a valid Azure ML model name")

    def _find(self, group: str, reg: Registration) -> int | None:
        found = [int(m.version) for m in self._all(group) if dict(m.tags or {}).get(IDEM_TAG) == reg.digest]
        return found[0] if found else None

    def _lineage(self, group: str, lineage: Mapping[str, Any]) -> Mapping[str, Any]:
        """The training data as a versioned data asset (``<group>-data``, versioned by the data's
        sha256), so the workspace shows what each version learned from; its id goes in the lineage.
        The same data again is the same version, registered once. Data outside the datastore's
        container (a local path in a test) registers nothing."""
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Data

        uri, sha = str(lineage.get("data_uri") or ""), str(lineage.get("data_sha256") or "")
        if not uri or len(sha) < 16:
            return lineage
        try:
            path = datastore_path(self.azure, self.store, uri)
        except InvalidEvent:
            return lineage
        name, version = f"{group}-data", sha[:16]
        try:
            self.client.data.get(name, version=version)
        except Exception as exc:
            if not _not_found(exc):
                raise
            self.client.data.create_or_update(Data(
                name=name, version=version, path=path, type=AssetTypes.URI_FILE,
                description=f"training data of {group}, registered by Skyloop", tags={"skyloop-data-sha256": sha}))
        return {**lineage, "data_asset": f"azureml:{name}:{version}"}

    def _create(self, group: str, reg: Registration, *, artifact_uri: str, artifact_sha256: str,
                metrics: Mapping[str, float], lineage: Mapping[str, Any], card_uri: str, card_sha256: str) -> int:
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model
        from azure.core.exceptions import ResourceExistsError

        folder = self._serving_folder(group, artifact_uri, artifact_sha256)
        tags = {STATUS_TAG: "pending", IDEM_TAG: reg.digest, SHA_TAG: artifact_sha256, CARD_TAG: card_uri,
                CARD_SHA_TAG: card_sha256}
        version = max((int(m.version) for m in self._all(group)), default=0) + 1
        for _ in range(5):  # a concurrent registration took the number: take the next
            try:
                made = self.client.models.create_or_update(Model(
                    name=group, version=str(version), path=datastore_path(self.azure, self.store, folder),
                    type=AssetTypes.CUSTOM_MODEL, tags=tags,
                    description="registered by Skyloop"))
                return int(made.version)
            except ResourceExistsError:
                version += 1
        raise DeploymentFailed(f"could not register a new version of {group}: version numbers kept colliding")

    def _write_status(self, group: str, version: int, status: Status, *, actor: str, note: str) -> None:
        m = self._get(group, version)
        tags = {**dict(m.tags or {}), STATUS_TAG: status.value.lower()}
        if status is Status.APPROVED:
            tags[APPROVAL_TAG] = "approved"
        else:
            tags.pop(APPROVAL_TAG, None)
        m.tags = tags  # tags and description are a version's mutable fields
        self.client.models.create_or_update(m)

    # -- ModelRegistry port (register and set_status: CardRegistry) -----------------
    def _get(self, group: str, version: int) -> Any:
        try:
            return self.client.models.get(name=group, version=str(version))
        except Exception as exc:
            if _not_found(exc):
                raise NotFound(f"model {group} v{version} is not registered") from None
            raise

    def get(self, group: str, version: int) -> ModelVersion:
        return self._to_version(self._get(group, version))

    def versions(self, group: str | None = None) -> list[ModelVersion]:
        groups = [group] if group else self.groups()
        return [self._to_version(m) for g in groups for m in sorted(self._all(g), key=lambda m: int(m.version))]

    def groups(self) -> list[str]:
        names = {m.name for m in self.client.models.list()}
        return sorted(n for n in names if any(CARD_TAG in dict(v.tags or {}) for v in self._all(n)))


class AzureMLDeployer:
    """Slots as deployments of one managed online endpoint per model group."""

    def __init__(self, azure: AzureSettings, store: BlobStore, *, client: Any = None) -> None:
        self.azure, self.store = azure, store
        self.client = client or _client(azure)

    def endpoint(self, group: str) -> str:
        """3-32 of letters, digits and '-', a letter first (Azure ML's rule; unique in the region)."""
        import re

        name = re.sub(r"[^a-z0-9-]", "-", f"{self.azure.endpoint_prefix}-{group}".lower())[:32].rstrip("-")
        return name if len(name) >= 3 else f"{name}-ep"

    def _endpoint(self, group: str) -> Any:
        try:
            return self.client.online_endpoints.get(name=self.endpoint(group))
        except Exception as exc:
            if _not_found(exc):
                return None
            raise

    def _deployments(self, group: str) -> list[Any]:
        if self._endpoint(group) is None:
            return []
        return list(self.client.online_deployments.list(endpoint_name=self.endpoint(group)))

    def settled(self, group: str) -> bool:
        ep = self._endpoint(group)
        if ep is None:
            return True
        states = [(f"endpoint {ep.name}", ep.provisioning_state)]
        states += [(f"deployment {d.name}", d.provisioning_state) for d in self._deployments(group)]
        failed = [f"{what} {state}" for what, state in states if str(state).lower() in ("failed", "canceled")]
        if failed:
            raise DeploymentFailed(f"Azure ML: {'; '.join(failed)}")
        return all(str(state).lower() == "succeeded" for _, state in states)

    def _await_settled(self, group: str) -> None:
        if not self.settled(group):
            raise EndpointBusy(f"endpoint {self.endpoint(group)} is still applying a change")

    def deploy(self, group: str, slot: str, version: ModelVersion) -> None:
        from azure.ai.ml.entities import CodeConfiguration, ManagedOnlineDeployment, ManagedOnlineEndpoint

        verified_bytes(self.store, version.artifact_uri, version.artifact_sha256,
                              f"artifact of {version.group} v{version.version} does not match the registry's sha256")
        self._await_settled(group)
        name = self.endpoint(group)
        if self._endpoint(group) is None:  # created in a minute or two: waited for, unlike a deployment
            self.client.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(
                name=name, auth_mode="key", tags={"skyloop-group": group}, identity=self._identity())).result()
        current = {d.name: d for d in self._deployments(group)}
        if slot in current and str(current[slot].model).endswith(f":{group}:{version.version}"):
            return
        code = Path(tempfile.mkdtemp(prefix="skyloop-score-"))
        (code / SCORE).write_bytes(scoring_script())
        self.client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
            name=slot, endpoint_name=name, model=f"azureml:{group}:{version.version}",
            code_configuration=CodeConfiguration(code=str(code), scoring_script=SCORE),
            environment=self.azure.serving_environment, instance_type=self.azure.instance_type, instance_count=1,
            environment_variables={"SKYLOOP_ARTIFACT_SHA256": version.artifact_sha256},
            tags={"skyloop-version": str(version.version)}))

    def _identity(self) -> Any:
        """The endpoint's identity: the one the template let read the datasets container."""
        if not self.azure.endpoint_identity:
            return None
        from azure.ai.ml.entities import IdentityConfiguration, ManagedIdentityConfiguration

        return IdentityConfiguration(type="user_assigned", user_assigned_identities=[
            ManagedIdentityConfiguration(resource_id=self.azure.endpoint_identity)])

    def undeploy(self, group: str, slot: str) -> None:
        if slot not in {d.name for d in self._deployments(group)}:
            return
        self._await_settled(group)
        ep = self._endpoint(group)
        weights = {k: v for k, v in dict(ep.traffic or {}).items() if k != slot and v > 0}
        if dict(ep.traffic or {}).get(slot, 0) > 0:  # its share first goes to production, or what remains
            rest = [d.name for d in self._deployments(group) if d.name != slot]
            if rest and not weights:
                weights = {"production" if "production" in rest else rest[0]: 100}
            ep.traffic = _whole(weights, [d.name for d in self._deployments(group)])
            self.client.online_endpoints.begin_create_or_update(ep)
            raise EndpointBusy(f"{slot} of {group} is taken out of traffic before it is deleted")
        self.client.online_deployments.begin_delete(name=slot, endpoint_name=self.endpoint(group))

    def set_traffic(self, group: str, weights: Mapping[str, float]) -> None:
        ep = self._endpoint(group)
        if ep is None:
            return
        self._await_settled(group)
        names = [d.name for d in self._deployments(group)]
        split = _whole({k: w for k, w in weights.items() if k in names}, names)
        if {k: v for k, v in dict(ep.traffic or {}).items() if v} == {k: v for k, v in split.items() if v}:
            return
        ep.traffic = split
        self.client.online_endpoints.begin_create_or_update(ep)

    def traffic(self, group: str) -> dict[str, float]:
        ep = self._endpoint(group)
        return {} if ep is None else {k: v / 100.0 for k, v in dict(ep.traffic or {}).items() if v > 0}

    def slots(self, group: str) -> dict[str, int]:
        return {d.name: int(str(d.model).rsplit(":", 1)[1]) for d in self._deployments(group)}

    def predict(self, group: str, rows: Sequence[Mapping[str, Any]], slot: str | None = None) -> list[Any]:
        if self._endpoint(group) is None:
            raise NotFound(f"no Azure ML endpoint serves {group}")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump({"instances": list(rows)}, fh, default=str)
        try:
            answer = self.client.online_endpoints.invoke(endpoint_name=self.endpoint(group), request_file=fh.name,
                                                         deployment_name=slot)
        finally:
            Path(fh.name).unlink(missing_ok=True)
        doc = json.loads(answer) if isinstance(answer, (str, bytes)) else answer
        if isinstance(doc, str):  # a scoring script's dict comes back JSON-encoded once more
            doc = json.loads(doc)
        if not isinstance(doc, dict) or "predictions" not in doc:
            raise DeploymentFailed(f"endpoint {self.endpoint(group)} answered without predictions")
        return list(doc["predictions"])


def _whole(weights: Mapping[str, float], names: Sequence[str]) -> dict[str, int]:
    """Whole percentages that add up to 100 over the deployments (Azure ML's rule); every
    deployment is named, the ones without traffic at 0."""
    split = percentages(weights)
    return {n: split.get(n, 0) for n in names}


class AzureMLTrainingBackend:
    name = "azureml"

    def __init__(self, azure: AzureSettings, store: BlobStore, client: Any = None) -> None:
        self.azure, self.store = azure, store
        self.client = client or _client(azure)

    def submit(self, dataset_uri: str, spec: Mapping[str, Any]) -> TrainingJob:
        from azure.ai.ml import Input, Output, command
        from azure.ai.ml.entities import UserIdentityConfiguration

        code_uri = upload_code(self.store)
        key = job_key(dataset_uri, spec, code_uri)
        name = f"skyloop-{key}"
        try:
            job = self.client.jobs.get(name)
            return TrainingJob(backend=self.name, job_id=key, status=str(job.status), result={"azureml_job": name})
        except Exception as exc:
            if not _not_found(exc):
                raise
        program = Path(tempfile.mkdtemp(prefix="skyloop-job-"))
        (program / "job.py").write_text(JOB_SCRIPT)
        out = f"azureml://datastores/{self.azure.datastore}/paths/{result_folder(spec, key)}/"
        spec_json = json.dumps(job_spec(dataset_uri, spec), sort_keys=True, default=str).replace("'", "")
        job = command(
            name=name, display_name=f"skyloop {spec.get('model_group') or 'train'}", code=str(program),
            command=f"python job.py ${{{{inputs.code}}}} '{spec_json}' ${{{{inputs.data}}}} ${{{{outputs.result}}}}",
            inputs={"code": Input(type="uri_file", path=datastore_path(self.azure, self.store, code_uri)),
                    "data": Input(type="uri_file", path=datastore_path(self.azure, self.store, dataset_uri))},
            outputs={"result": Output(type="uri_folder", path=out, mode="rw_mount")},
            # the job reads and writes as the functions' identity, which submitted it and may
            identity=UserIdentityConfiguration(),
            environment=self.azure.serving_environment, compute=self.azure.training_compute,
            tags={"skyloop-job": key})
        made = self.client.jobs.create_or_update(job)
        return TrainingJob(backend=self.name, job_id=key, status=str(made.status), result={"azureml_job": name, "output": out})
