"""A stand-in for Vertex AI's generated ``ModelServiceClient`` (aiplatform_v1): Vertex has no
emulator, so the tests replace the client at its transport edge. Every request is (or is turned
into) the SDK's own request type, so a misspelt field fails as it would against the service, and
every answer is the SDK's own ``Model``. The service's behaviour modelled: versions under one model
(``parent_model``), ``@version`` and ``@alias`` names, version aliases unique within a model and
``-alias`` removal, label rules, label updates under an update mask, ``labels.k="v"`` list filters, NotFound
and AlreadyExists. Not modelled: long-running operation polling (``result()`` returns at once),
IAM, quotas, and the resource's other fields."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1


class _Done:
    def __init__(self, response: Any) -> None:
        self.response = response

    def result(self, timeout: float | None = None) -> Any:
        return self.response


class FakeModelService:
    def __init__(self) -> None:
        self.models: dict[str, list[aiplatform_v1.Model]] = {}  # "…/models/<id>" -> its versions
        self.requests: list[Any] = []
        self.lock = threading.Lock()

    @staticmethod
    def _check_labels(labels: Any) -> None:
        """Google Cloud's label rules: keys and values lowercase letters, digits, '_' and '-', at
        most 63 characters, a key starting with a letter."""
        for k, v in dict(labels).items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k) or not re.fullmatch(r"[a-z0-9_-]{0,63}", v):
                raise gexc.InvalidArgument(f"invalid label {k}={v!r}")

    @staticmethod
    def _typed(kind: type, request: Any) -> Any:
        return request if isinstance(request, kind) else kind(**request)

    def _find(self, name: str) -> aiplatform_v1.Model:
        base, _, at = name.partition("@")
        versions = self.models.get(base)
        if not versions:
            raise gexc.NotFound(f"Model {base} not found")
        if not at:
            at = "default"
        for m in versions:
            if m.version_id == at or at in m.version_aliases:
                return m
        raise gexc.NotFound(f"Model {name} not found")

    def upload_model(self, request: Any) -> _Done:
        r = self._typed(aiplatform_v1.UploadModelRequest, request)
        self.requests.append(r)
        self._check_labels(r.model.labels)
        with self.lock:
            if r.parent_model:
                if r.parent_model not in self.models:
                    raise gexc.NotFound(f"parent model {r.parent_model} not found")
                base = r.parent_model
            else:
                base = f"{r.parent}/models/{r.model_id}"
                if base in self.models:
                    raise gexc.AlreadyExists(f"Model {base} already exists")
                self.models[base] = []
            versions = self.models[base]
            m = aiplatform_v1.Model(r.model)
            m.name, m.version_id = base, str(len(versions) + 1)
            m.version_create_time = datetime.now(timezone.utc)
            aliases = list(r.model.version_aliases) + (["default"] if not versions else [])
            del m.version_aliases[:]
            m.version_aliases.extend(aliases)
            versions.append(m)
            return _Done(aiplatform_v1.UploadModelResponse(model=base, model_version_id=m.version_id))

    def get_model(self, request: Any) -> aiplatform_v1.Model:
        r = self._typed(aiplatform_v1.GetModelRequest, request)
        with self.lock:
            return aiplatform_v1.Model(self._find(r.name))

    def list_model_versions(self, request: Any) -> list[aiplatform_v1.Model]:
        r = self._typed(aiplatform_v1.ListModelVersionsRequest, request)
        with self.lock:
            if r.name not in self.models:
                raise gexc.NotFound(f"Model {r.name} not found")
            return [aiplatform_v1.Model(m) for m in self.models[r.name]]

    def list_models(self, request: Any) -> list[aiplatform_v1.Model]:
        r = self._typed(aiplatform_v1.ListModelsRequest, request)
        wanted = dict(re.findall(r'labels\.([\w-]+)="([^"]*)"', r.filter))
        with self.lock:
            defaults = [self._find(base) for base in self.models if base.startswith(r.parent + "/")]
            return [aiplatform_v1.Model(m) for m in defaults if all(m.labels.get(k) == v for k, v in wanted.items())]

    def update_model(self, request: Any) -> aiplatform_v1.Model:
        r = self._typed(aiplatform_v1.UpdateModelRequest, request)
        self.requests.append(r)
        assert list(r.update_mask.paths) == ["labels"], "only label updates are modelled"
        self._check_labels(r.model.labels)
        with self.lock:
            m = self._find(r.model.name)
            m.labels.clear()
            m.labels.update(dict(r.model.labels))
            return aiplatform_v1.Model(m)

    def merge_version_aliases(self, request: Any) -> aiplatform_v1.Model:
        r = self._typed(aiplatform_v1.MergeVersionAliasesRequest, request)
        self.requests.append(r)
        with self.lock:
            m = self._find(r.name)
            base = r.name.partition("@")[0]
            for alias in r.version_aliases:
                if alias.startswith("-"):
                    if alias[1:] not in m.version_aliases:
                        raise gexc.InvalidArgument(f"alias {alias[1:]} is not on {r.name}")
                    m.version_aliases.remove(alias[1:])
                    continue
                for other in self.models[base]:  # an alias names one version of a model
                    if alias in other.version_aliases:
                        other.version_aliases.remove(alias)
                m.version_aliases.append(alias)
            return aiplatform_v1.Model(m)
