"""Model artifacts: joblib bytes, content-addressed by sha256, loaded only when vouched for.

joblib unpickles, and unpickling runs code: so an artifact is loaded only after
its bytes hash to the sha256 the registry recorded at registration. The key
embeds the hash, so a retried write lands on the same key and never leaves a
second copy.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from ..errors import ArtifactIntegrityError
from . import BlobStore

from .inference import ARTIFACT_FORMAT  # one definition: the serving file checks it too

# What a managed training job leaves in its model directory (training/entry.py writes them,
# the train function reads them back when the job completes).
MODEL_FILE, CARD_FILE = "model.joblib", "skyloop.json"


@dataclass(frozen=True)
class StoredArtifact:
    uri: str
    sha256: str
    size: int


def dump_model(bundle: dict[str, Any]) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump({"format": ARTIFACT_FORMAT, **bundle}, buf, compress=3)
    return buf.getvalue()


def write_artifact(store: BlobStore, group: str, data: bytes) -> StoredArtifact:
    digest = hashlib.sha256(data).hexdigest()
    uri = store.put(f"models/{group}/{digest}.joblib", data)
    return StoredArtifact(uri=uri, sha256=digest, size=len(data))


def verified_bytes(store: BlobStore, uri: str, expected_sha256: str, refusal: str | None = None) -> bytes:
    """An artifact's bytes, only if they hash to what the registry vouches for: the one check every
    loader, registry and deployer makes before it uses, copies or serves them. ``refusal`` is the
    error's message (default: the two hashes)."""
    data = store.get(uri)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ArtifactIntegrityError(refusal or f"artifact {uri} hashes to {actual[:12]}..., registry vouches for "
                                                f"{expected_sha256[:12]}...; refusing to load")
    return data


# A model a cloud service trained and serves itself (Vertex AI AutoML) has no bytes Skyloop could
# load: its version's artifact is this small JSON descriptor naming the service's own model, hashed
# and vouched for like any artifact, so every loader refuses it by name instead of unpickling it.
MANAGED_FORMAT = "skyloop-managed-model/1"


def managed_descriptor(service: str, model: str, **facts: Any) -> bytes:
    """The artifact bytes of a model ``service`` trained and serves (``model``: its own name)."""
    import json

    return json.dumps({"format": MANAGED_FORMAT, "service": service, "model": model, **facts},
                      sort_keys=True).encode()


def managed_model(data: bytes) -> dict[str, Any] | None:
    """The descriptor ``data`` holds, or None: a joblib artifact."""
    import json

    if not data.startswith(b"{"):
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == MANAGED_FORMAT else None


def load_verified(store: BlobStore, uri: str, expected_sha256: str) -> dict[str, Any]:
    """Fetch, hash, compare, and only then unpickle."""
    data = verified_bytes(store, uri, expected_sha256)
    managed = managed_model(data)
    if managed is not None:
        from ..errors import NotSupported

        raise NotSupported(f"{uri} names a model that {managed['service']} trained and serves itself "
                           f"({managed['model']}): there are no model bytes to load here")
    import joblib

    bundle = joblib.load(io.BytesIO(data))
    if not isinstance(bundle, dict) or bundle.get("format") != ARTIFACT_FORMAT:
        raise ArtifactIntegrityError(f"artifact {uri} is not a {ARTIFACT_FORMAT} bundle")
    return bundle
