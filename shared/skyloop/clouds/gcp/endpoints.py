"""Vertex AI endpoints behind Skyloop's ``Deployer`` port.

Slots map onto Vertex like this:
- ``production`` and ``canary`` are deployed models on the group's live endpoint
  (``<prefix>-<group>``), the one clients call; the canary's share is that endpoint's
  ``traffic_split``, and each deployed model's ``display_name`` is its slot.
- Every other slot (``staging``) is alone on an endpoint of its own (``<prefix>-<group>-<slot>``):
  it takes no live traffic, and its predictions must come from it alone.

A Vertex public endpoint cannot address one deployed model (``PredictRequest`` has no deployed
model field), but each answer says which deployed model served it. So ``predict(slot="canary")``
sends the request to the live endpoint until the canary's deployed model answers, at most enough
times that missing it by chance is under one in a million at its share (132 requests at 10 %).

Every change is a long-running operation of ten minutes or more, so nothing here waits for one:
the operation's name is kept in the key-value store and ``settled`` asks Vertex about it, as the
rollout steps do between changes (``serving/rollout.py``). Replacing a slot's version deploys the
new one with the old one's traffic share in the same request; once it serves, ``settled`` undeploys
the superseded model before it reports the endpoint settled.

The model a slot serves is the registered Vertex model version (``…/models/<group>@<version>``),
whose container is Skyloop's serving image with the registry's sha256 in its environment: the
container refuses to load any other bytes, and ``deploy`` checks the artifact's sha256 itself
before the first request goes out. A version Vertex AutoML trained is Vertex's own model, deployed
the same way (its vouched artifact is the descriptor naming it); its answers are read back as a
class or a number like the serving image's.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any, Mapping, Sequence

from ...ports.kv import update
from ...errors import DeploymentFailed, EndpointBusy, NotFound
from ...ports import BlobStore, KeyValueStore
from ...versions import ModelVersion
from ..traffic import percentages
from ...ports.artifacts import verified_bytes
from .config import GcpSettings
from .vertex import vertex_client

LIVE_SLOTS = ("production", "canary")
MISS_PROBABILITY = 1e-6  # how unlikely predict(slot=...) on the live endpoint may miss its slot by chance
MAX_PROBE_REQUESTS = 500


def probe_attempts(share: float) -> int:
    """Requests needed so that a deployed model with this traffic share answers at least once,
    except with probability MISS_PROBABILITY."""
    if share >= 1.0:
        return 1
    if share <= 0.0:
        return 0
    return min(MAX_PROBE_REQUESTS, math.ceil(math.log(MISS_PROBABILITY) / math.log(1.0 - share)))


class VertexDeployer:
    def __init__(self, gcp: GcpSettings, store: BlobStore, kv: KeyValueStore, *, endpoint_client: Any = None,
                 prediction_client: Any = None, wait_seconds: float | None = None, poll_seconds: float = 15.0) -> None:
        # wait_seconds: how long a change may wait for the endpoint's previous operation (0 in the
        # rollout-step function, whose steps poll ``settled`` between changes)
        self.gcp, self.store, self.kv = gcp, store, kv
        self.endpoints = endpoint_client or vertex_client("EndpointServiceClient", gcp.region)
        self.prediction = prediction_client or vertex_client("PredictionServiceClient", gcp.region)
        self.wait_seconds = gcp.endpoint_wait_seconds if wait_seconds is None else wait_seconds
        self.poll_seconds = poll_seconds
        self.location = f"projects/{gcp.project}/locations/{gcp.region}"

    # -- naming --------------------------------------------------------------------
    def endpoint_id(self, group: str, slot: str = "production") -> str:
        """A letter first, then [a-z0-9-], at most 63, a letter or digit last (Vertex's rule)."""
        base = re.sub(r"[^a-z0-9-]", "-", f"{self.gcp.endpoint_prefix}-{group}".lower())
        if slot not in LIVE_SLOTS:
            base = f"{base}-{slot}"
        return base[:63].rstrip("-")

    def _endpoint_name(self, group: str, slot: str = "production") -> str:
        return f"{self.location}/endpoints/{self.endpoint_id(group, slot)}"

    def _model_name(self, group: str, version: int) -> str:
        return f"{self.location}/models/{group}@{version}"

    def _ops_key(self, group: str) -> str:
        return f"vertex:operations:{group}"

    # -- reading -------------------------------------------------------------------
    def _endpoint(self, group: str, slot: str = "production") -> Any:  # None: no such endpoint
        from google.api_core import exceptions as gexc

        try:
            return self.endpoints.get_endpoint(request={"name": self._endpoint_name(group, slot)})
        except gexc.NotFound:
            return None

    def _ensure_endpoint(self, group: str, slot: str) -> Any:
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform_v1

        ep = self._endpoint(group, slot)
        if ep is not None:
            return ep
        endpoint = aiplatform_v1.Endpoint(
            display_name=self.endpoint_id(group, slot), description=f"Skyloop {group}: {slot if slot not in LIVE_SLOTS else 'live'}",
            labels={"skyloop-group": re.sub(r"[^a-z0-9_-]", "-", group.lower())[:63], "skyloop-managed": "true"})
        try:  # an endpoint is created in seconds: wait for it, unlike a deployment
            self.endpoints.create_endpoint(request=aiplatform_v1.CreateEndpointRequest(
                parent=self.location, endpoint=endpoint, endpoint_id=self.endpoint_id(group, slot))).result(
                timeout=self.gcp.operation_timeout_seconds)
        except gexc.AlreadyExists:
            pass  # a concurrent or earlier attempt made it
        ep = self._endpoint(group, slot)
        if ep is None:  # pragma: no cover - Vertex said it exists
            raise DeploymentFailed(f"endpoint {self.endpoint_id(group, slot)} was created but cannot be read")
        return ep

    @staticmethod
    def _serving(ep: Any | None) -> list[Any]:
        return [] if ep is None else list(ep.deployed_models)

    @staticmethod
    def _current(ep: Any, slot: str) -> Any:  # None: nothing serves the slot
        """The deployed model serving ``slot``: the newest with its display name."""
        mine = [d for d in ep.deployed_models if d.display_name == slot]
        return max(mine, key=lambda d: (d.create_time.timestamp() if d.create_time else 0, d.id)) if mine else None

    def _superseded(self, ep: Any) -> list[Any]:
        return [d for d in ep.deployed_models if d.id != self._current(ep, d.display_name).id]

    # -- operations ----------------------------------------------------------------
    def _remember(self, group: str, operation: Any) -> None:
        name = getattr(getattr(operation, "operation", None), "name", "")
        if not name:
            return
        update(self.kv, self._ops_key(group), lambda cur: json.dumps(
            sorted({*json.loads(cur or b"[]"), name})).encode())

    def _pending(self, group: str) -> bool:
        """True while one of the group's operations runs; a failed one is reported once."""
        names = json.loads(self.kv.get(self._ops_key(group)) or b"[]")
        if not names:
            return False
        running, failed = [], []
        for name in names:
            op = self.endpoints.get_operation(request={"name": name})
            if not op.done:
                running.append(name)
            elif op.HasField("error") and op.error.code:
                failed.append(f"{name.rsplit('/', 1)[-1]}: {op.error.message}")
        update(self.kv, self._ops_key(group), lambda cur: json.dumps(
            sorted(set(json.loads(cur or b"[]")) & set(running))).encode())
        if failed:
            raise DeploymentFailed(f"Vertex AI operation failed on {group}: {'; '.join(failed)}")
        return bool(running)

    def settled(self, group: str) -> bool:
        from google.cloud import aiplatform_v1

        if self._pending(group):
            return False
        for slot in ("production", "staging"):
            ep = self._endpoint(group, slot)
            old = self._superseded(ep) if ep is not None else []
            if old:  # a replaced version still holds its machines: undeploy it, then report settled
                for d in old:
                    self._remember(group, self.endpoints.undeploy_model(request=aiplatform_v1.UndeployModelRequest(
                        endpoint=ep.name, deployed_model_id=d.id,
                        traffic_split={k: v for k, v in ep.traffic_split.items() if k != d.id})))
                return False
        return True

    def _await_settled(self, group: str) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while not self.settled(group):
            if time.monotonic() >= deadline:
                raise EndpointBusy(f"endpoint {self.endpoint_id(group)} is still applying a change")
            time.sleep(self.poll_seconds)

    # -- Deployer port -------------------------------------------------------------
    def _verify(self, version: ModelVersion) -> None:
        verified_bytes(self.store, version.artifact_uri, version.artifact_sha256,
                       f"artifact of {version.group} v{version.version} does not match the registry's sha256")

    def deploy(self, group: str, slot: str, version: ModelVersion) -> None:
        from google.cloud import aiplatform_v1

        self._verify(version)
        self._await_settled(group)
        ep = self._ensure_endpoint(group, slot)
        old = self._current(ep, slot)
        if old is not None and old.model_version_id == str(version.version):
            return  # already serves it
        split = dict(ep.traffic_split)
        # the new model takes over the old one's share in the same request; a new slot takes no
        # traffic unless nothing else serves
        share = split.pop(old.id, 0) if old is not None else 0
        if not any(v > 0 for v in split.values()):
            share = 100
        split = {k: v for k, v in split.items() if v > 0}
        split["0"] = share  # "0": the model this request deploys
        deployed = aiplatform_v1.DeployedModel(
            model=self._model_name(group, version.version), display_name=slot,
            dedicated_resources=aiplatform_v1.DedicatedResources(
                machine_spec=aiplatform_v1.MachineSpec(machine_type=self.gcp.machine_type),
                min_replica_count=1, max_replica_count=self.gcp.max_replicas))
        self._remember(group, self.endpoints.deploy_model(request=aiplatform_v1.DeployModelRequest(
            endpoint=ep.name, deployed_model=deployed, traffic_split={k: v for k, v in split.items() if v > 0} or {"0": 100})))

    def undeploy(self, group: str, slot: str) -> None:
        from google.cloud import aiplatform_v1

        ep = self._endpoint(group, slot)
        if ep is None or self._current(ep, slot) is None:
            return
        self._await_settled(group)
        ep = self._endpoint(group, slot)
        for d in [d for d in ep.deployed_models if d.display_name == slot]:
            rest = {k: v for k, v in ep.traffic_split.items() if k != d.id and v > 0}
            others = [x.id for x in ep.deployed_models if x.display_name != slot]
            if not rest and others:  # the traffic it had goes to production, or to what remains
                prod = self._current(ep, "production")
                rest = {prod.id if prod is not None else others[0]: 100}
            self._remember(group, self.endpoints.undeploy_model(request=aiplatform_v1.UndeployModelRequest(
                endpoint=ep.name, deployed_model_id=d.id, traffic_split=percentages(rest))))
            return  # one change per call: the next one waits for this to settle

    def set_traffic(self, group: str, weights: Mapping[str, float]) -> None:
        from google.cloud import aiplatform_v1
        from google.protobuf import field_mask_pb2

        ep = self._endpoint(group)
        if ep is None or not ep.deployed_models:
            return
        self._await_settled(group)
        ep = self._endpoint(group)
        ids = {slot: d.id for slot in LIVE_SLOTS if (d := self._current(ep, slot)) is not None}
        split = percentages({ids[s]: w for s, w in weights.items() if s in ids})
        if split == {k: v for k, v in ep.traffic_split.items() if v > 0}:
            return
        self._remember(group, self.endpoints.update_endpoint(request=aiplatform_v1.UpdateEndpointRequest(
            endpoint=aiplatform_v1.Endpoint(name=ep.name, traffic_split=split),
            update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"]))))

    def traffic(self, group: str) -> dict[str, float]:
        ep = self._endpoint(group)
        if ep is None:
            return {}
        by_id = {d.id: d.display_name for d in ep.deployed_models}
        out: dict[str, float] = {}
        for k, v in ep.traffic_split.items():
            if v > 0 and k in by_id:
                out[by_id[k]] = out.get(by_id[k], 0.0) + v / 100.0
        return out

    def slots(self, group: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for ep in (self._endpoint(group), self._endpoint(group, "staging")):
            for d in self._serving(ep):
                cur = self._current(ep, d.display_name)
                out[d.display_name] = int(cur.model_version_id)
        return out

    def predict(self, group: str, rows: Sequence[Mapping[str, Any]], slot: str | None = None) -> list[Any]:
        from google.api_core import exceptions as gexc
        from google.cloud import aiplatform_v1

        ep = self._endpoint(group, slot or "production")
        if ep is None or not ep.deployed_models:
            raise NotFound(f"no Vertex AI endpoint serves {group}{f' in slot {slot}' if slot else ''}")
        request = aiplatform_v1.PredictRequest(endpoint=ep.name)
        # proto-plus marshals plain values into protobuf Values on extend (not in the constructor)
        request.instances.extend(json.loads(json.dumps(list(rows), default=str)))
        want, attempts = None, 1
        if slot in LIVE_SLOTS:
            d = self._current(ep, slot)
            if d is None:
                raise NotFound(f"nothing serves slot {slot} of {group}")
            want = d.id
            attempts = probe_attempts(ep.traffic_split.get(d.id, 0) / 100.0)
            if attempts == 0:
                raise DeploymentFailed(f"slot {slot} of {group} takes no traffic: its predictions cannot be reached")
        for _ in range(attempts):
            try:
                response = self.prediction.predict(request=request)
            except (gexc.InvalidArgument, gexc.FailedPrecondition) as exc:
                raise DeploymentFailed(f"endpoint {ep.name.rsplit('/', 1)[-1]} refused the request: {exc.message}") from None
            if want is None or response.deployed_model_id == want:
                return [_answer(_plain(p)) for p in response.predictions]
        raise DeploymentFailed(f"slot {slot} of {group} did not answer in {attempts} requests at its traffic share")


def _answer(prediction: Any) -> Any:
    """One prediction as Skyloop's serving image gives it (a class or a number), whoever served it:
    a Vertex AutoML tabular model answers a classification with ``{"classes", "scores"}`` (the
    class is the top score's) and a regression with ``{"value", "lower_bound", "upper_bound"}``."""
    if isinstance(prediction, dict) and isinstance(prediction.get("classes"), list) and prediction.get("scores"):
        scores = prediction["scores"]
        return prediction["classes"][max(range(len(scores)), key=scores.__getitem__)]
    if isinstance(prediction, dict) and "value" in prediction and set(prediction) <= {"value", "lower_bound", "upper_bound"}:
        return prediction["value"]
    return prediction


def _plain(value: Any) -> Any:
    """A prediction as plain JSON values (proto-plus hands back map and list views). A protobuf
    Value holds every number as a double: an integral one is read back as the integer the
    container sent (class 1, not 1.0), as JSON would."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value]
