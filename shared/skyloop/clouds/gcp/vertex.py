"""The Vertex AI Model Registry behind Skyloop's ``ModelRegistry`` port.

Mapping: a Skyloop model group is one Vertex model (its ID is the group name); a version is a
model version, uploaded with ``parent_model``. Vertex has no approval state
(``../shared/cloud-facts.md``): the status lives in the version's ``skyloop-status`` label, and
approval also puts the version alias ``approved`` on it, which is what an operator sets in the
console (``MergeVersionAliases``) and what the audit-log trigger sees. A pending version that
carries the alias ``approved`` is approved: Vertex's own alias is the truth, as SageMaker's
status is on AWS.

The artifact's sha256 and the card's URI and sha256 (metrics, params, lineage: a JSON object in
Cloud Storage, as on AWS) ride in the version description, since a label value holds 63
characters and a sha256 takes 64; the card's own sha256 makes a swapped card an integrity error.
Registration is idempotent per key twice over: a state record, and the ``skyloop-idem`` label,
which a redelivery finds on the version an earlier, crashed attempt uploaded.

The client is the SDK's generated ``ModelServiceClient`` (aiplatform_v1), not the high-level
``aiplatform.Model``: one request per call, and the same requests the tests fake at that edge.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping

from ...errors import ForeignModel, InvalidEvent, NotFound
from ...ports import BlobStore, KeyValueStore
from ...ports.registry import AliasBook, CardRegistry, ModelVersion, Registration, Status, read_card
from ...ports.artifacts import verified_bytes
from .config import GcpSettings

_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
STATUS_LABEL, IDEM_LABEL, MANAGED_LABEL = "skyloop-status", "skyloop-idem", "skyloop-managed"
AUTOML_LABEL = "skyloop-automl"  # a version a Skyloop AutoML pipeline uploads: in flight until registered
APPROVED_ALIAS = "approved"


def _check_name(group: str) -> str:
    if not _ID_RE.match(group):
        raise InvalidEvent(f"model group {group!r} is not a valid Vertex AI model ID "
                           "(a lowercase letter, then lowercase letters, digits, '-' or '_', <= 63)")
    return group


def _label(status: Status) -> str:
    return status.value.lower()  # label values are lowercase on Google Cloud


@lru_cache(maxsize=None)
def vertex_client(kind: str, region: str) -> Any:
    """One generated aiplatform_v1 client per kind and region per process (``ModelServiceClient``,
    ``EndpointServiceClient``, ``PredictionServiceClient``, ``JobServiceClient``)."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import aiplatform_v1  # lazy: the core never imports google

    return getattr(aiplatform_v1, kind)(client_options=ClientOptions(api_endpoint=f"{region}-aiplatform.googleapis.com"))


def _unregistered(m: Any) -> bool:
    try:
        return "skyloop" not in json.loads(m.version_description or "{}")
    except ValueError:
        return True


class VertexModelRegistry(CardRegistry):
    def __init__(self, gcp: GcpSettings, store: BlobStore, kv: KeyValueStore, client: Any = None) -> None:
        self.gcp, self.store, self.kv = gcp, store, kv
        self.aliases = AliasBook(kv)  # Skyloop's aliases (staging, production ...) and their history
        self.client = client or vertex_client("ModelServiceClient", gcp.region)
        self.location = f"projects/{gcp.project}/locations/{gcp.region}"

    def _name(self, group: str, version: int | None = None) -> str:
        base = f"{self.location}/models/{_check_name(group)}"
        return base if version is None else f"{base}@{version}"

    def _to_version(self, group: str, m: Any) -> ModelVersion:
        try:
            meta = json.loads(m.version_description or "")["skyloop"]
        except (ValueError, KeyError, TypeError):
            raise ForeignModel(f"{m.name}@{m.version_id} was not registered by Skyloop") from None
        card = read_card(self.store, meta["card_uri"], meta["card_sha256"], f"{group} v{m.version_id}")
        status = Status(dict(m.labels).get(STATUS_LABEL, "pending").upper())
        if APPROVED_ALIAS in m.version_aliases and status is Status.PENDING:
            status = Status.APPROVED  # approved in the console or with the SDK: the alias is Vertex's approval
        created = m.version_create_time or m.create_time
        created = created if isinstance(created, datetime) and created.year > 1970 else datetime.now(timezone.utc)
        return ModelVersion(group=group, version=int(m.version_id), status=status, artifact_uri=card["artifact_uri"],
                            artifact_sha256=meta["artifact_sha256"], metrics=card["metrics"], params=card["params"],
                            lineage=card["lineage"], created_at=created)

    def _serving_folder(self, group: str, artifact_uri: str, artifact_sha256: str) -> str:
        """Lay out what the serving container loads (``serving/container.py``) in a folder of its
        own per artifact, since a Vertex model version names a folder, not a file."""
        from ...ports.serving import serving_files

        data = verified_bytes(self.store, artifact_uri, artifact_sha256,
                              f"artifact {artifact_uri} does not match the sha256 it is registered with")
        folder = f"models/{group}/serving/{artifact_sha256}"
        uri = ""
        for name, body in serving_files(data).items():
            uri = self.store.put(f"{folder}/{name}", body)
        return uri[: uri.index(folder) + len(folder)]

    def _versions(self, group: str) -> list[Any]:
        """The group's registered versions: one an AutoML pipeline uploaded is left out until the
        train function has registered it (its description carries no Skyloop record until then)."""
        from google.api_core import exceptions as gexc

        try:
            found = list(self.client.list_model_versions(request={"name": self._name(group)}))
        except gexc.NotFound:
            return []
        return [m for m in found if not (dict(m.labels).get(AUTOML_LABEL) and _unregistered(m))]

    # -- the primitives CardRegistry's flow calls --------------------------------
    def _check_group(self, group: str) -> None:
        _check_name(group)

    def _find(self, group: str, reg: Registration) -> int | None:
        found = [int(m.version_id) for m in self._versions(group) if dict(m.labels).get(IDEM_LABEL) == reg.digest[:63]]
        return found[0] if found else None

    def _create(self, group: str, reg: Registration, *, artifact_uri: str, artifact_sha256: str,
                metrics: Mapping[str, float], lineage: Mapping[str, Any], card_uri: str, card_sha256: str) -> int:
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform_v1

        description = json.dumps({"skyloop": {"artifact_sha256": artifact_sha256, "card_uri": card_uri,
                                              "card_sha256": card_sha256}}, sort_keys=True)
        managed = lineage.get("managed")
        if isinstance(managed, dict) and managed.get("backend") == "vertex-automl":
            return self._adopt(group, str(managed["model"]), description, reg)
        model = aiplatform_v1.Model(
            display_name=group, description="registered by Skyloop", version_description=description,
            # Vertex copies the folder at artifact_uri into the container: model.joblib at its root
            artifact_uri=self._serving_folder(group, artifact_uri, artifact_sha256),
            container_spec=aiplatform_v1.ModelContainerSpec(
                # Skyloop's serving image (infra/aws/serving/serve.py) speaks Vertex's custom-container
                # contract too; it refuses any model.joblib but the one with this sha256
                image_uri=self.gcp.serving_image, predict_route="/invocations", health_route="/ping",
                ports=[aiplatform_v1.Port(container_port=8080)],
                env=[aiplatform_v1.EnvVar(name="SKYLOOP_ARTIFACT_SHA256", value=artifact_sha256)]),
            labels={STATUS_LABEL: _label(Status.PENDING), IDEM_LABEL: reg.digest[:63], MANAGED_LABEL: "true"})
        request = aiplatform_v1.UploadModelRequest(parent=self.location, model=model)
        if self._versions(group):
            request.parent_model = self._name(group)
        else:
            request.model_id = group
        try:
            response = self.client.upload_model(request=request).result(timeout=self.gcp.operation_timeout_seconds)
        except gexc.AlreadyExists:  # another upload created the group's model first: add a version to it
            request = aiplatform_v1.UploadModelRequest(parent=self.location, model=model, parent_model=self._name(group))
            response = self.client.upload_model(request=request).result(timeout=self.gcp.operation_timeout_seconds)
        return int(response.model_version_id)

    def _adopt(self, group: str, model: str, description: str, reg: Registration) -> int:
        """Register a version Vertex AutoML uploaded into the group's model: the Skyloop record goes
        into its description and its labels say PENDING, as an upload's would (one version-level
        ``UpdateModel``); nothing is uploaded."""
        from google.cloud import aiplatform_v1
        from google.protobuf import field_mask_pb2

        base, _, version = model.partition("@")
        if base != self._name(group) or not version.isdigit():
            raise InvalidEvent(f"{model} is not a version of {self._name(group)}")
        m = self.client.get_model(request={"name": model})
        labels = {**dict(m.labels), STATUS_LABEL: _label(Status.PENDING), IDEM_LABEL: reg.digest[:63]}
        self.client.update_model(request=aiplatform_v1.UpdateModelRequest(
            model=aiplatform_v1.Model(name=model, labels=labels, version_description=description),
            update_mask=field_mask_pb2.FieldMask(paths=["labels", "version_description"])))
        return int(version)

    def _write_status(self, group: str, version: int, status: Status, *, actor: str, note: str) -> None:
        from google.cloud import aiplatform_v1
        from google.protobuf import field_mask_pb2

        name = self._name(group, version)
        m = self.client.get_model(request={"name": name})
        labels = {**dict(m.labels), STATUS_LABEL: _label(status)}
        self.client.update_model(request=aiplatform_v1.UpdateModelRequest(
            model=aiplatform_v1.Model(name=name, labels=labels), update_mask=field_mask_pb2.FieldMask(paths=["labels"])))
        # the alias an operator would set in the console; leaving approval takes it away again
        has_alias = APPROVED_ALIAS in m.version_aliases
        if (status is Status.APPROVED) != has_alias:
            alias = APPROVED_ALIAS if status is Status.APPROVED else f"-{APPROVED_ALIAS}"
            self.client.merge_version_aliases(request=aiplatform_v1.MergeVersionAliasesRequest(
                name=name, version_aliases=[alias]))

    # -- ModelRegistry port (register and set_status: CardRegistry) -----------------
    def get(self, group: str, version: int) -> ModelVersion:
        from google.api_core import exceptions as gexc

        try:
            m = self.client.get_model(request={"name": self._name(group, version)})
        except gexc.NotFound:
            raise NotFound(f"model {group} v{version} is not registered") from None
        return self._to_version(group, m)

    def versions(self, group: str | None = None) -> list[ModelVersion]:
        groups = [group] if group else self.groups()
        return [self._to_version(g, m) for g in groups for m in sorted(self._versions(g), key=lambda m: int(m.version_id))]

    def groups(self) -> list[str]:
        models = self.client.list_models(request={"parent": self.location, "filter": f'labels.{MANAGED_LABEL}="true"'})
        return sorted({m.name.rsplit("/", 1)[1] for m in models})

