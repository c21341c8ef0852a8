"""Google Cloud adapters (extra ``skyloop[gcp]``), imported lazily: Cloud Storage for blobs and
for state (compare-and-set on object generations), Pub/Sub for domain events and remediation
requests, and the decoder of Eventarc's CloudEvents.

Built so far (issue 16, in progress): storage, state, idempotency, Pub/Sub publishing, the
Cloud Monitoring metric source, the Vertex AI model registry and the event decoder, each on the
seam's ports (state, idempotency and the registry through the port contract suite, on a real
local GCS server with Vertex faked at its client). Not yet: the Vertex AI deployer and training
backend, the executors and the entry points, so ``build_adapters`` refuses with that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import CloudUnavailable

if TYPE_CHECKING:
    from ...adapters import Adapters


def build_adapters(settings: Any = None, **options: Any) -> "Adapters":
    raise CloudUnavailable("the gcp adapter set is not complete yet: Cloud Storage, state, Pub/Sub, Cloud "
                           "Monitoring and the Vertex AI registry are built; the Vertex AI deployer and training "
                           "backend are not (issue 16)")


__all__ = ["build_adapters"]
