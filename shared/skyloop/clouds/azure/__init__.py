"""Azure adapters (extra ``skyloop[azure]``), imported lazily: Blob Storage for blobs, Table
Storage for state and idempotency (compare-and-set on the entity's ETag), Storage Queues for
remediation (a poison queue for what can never succeed), and the decoder of Event Grid and Azure
Monitor shapes.

Built so far (issue 17, in progress), each on the seam's ports: storage, state, idempotency and
the remediation queue (run against Azurite), Azure Monitor metrics (at the SDK's client edge) and
the event decoder. Not yet: the Azure ML registry, managed online endpoint deployer and
command-job training backend, the executors and the Functions entry points, so
``build_adapters`` refuses with that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import CloudUnavailable

if TYPE_CHECKING:
    from ...adapters import Adapters


def build_adapters(settings: Any = None, **options: Any) -> "Adapters":
    raise CloudUnavailable("the azure adapter set is not complete yet: Blob Storage, Table Storage state and the "
                           "remediation Storage Queue are built; the Azure ML registry, deployer and training "
                           "backend are not (issue 17)")


__all__ = ["build_adapters"]
