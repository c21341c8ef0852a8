"""Google Cloud adapters (extra ``skyloop[gcp]``), imported lazily: Cloud Storage for blobs and
for state (compare-and-set on object generations), Pub/Sub for domain events and remediation
requests, Vertex AI for the registry, endpoints and training jobs, Cloud Monitoring for metric
windows, Cloud Run and Managed Instance Groups for remediation, Cloud Workflows for the rollout,
and the decoder of Eventarc's CloudEvents.

``build_adapters()`` wires them from ``SKYLOOP_GCP_*`` settings (``runtime.py``); each module
imports the SDKs inside its functions, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...adapters import Adapters
    from ...config import Settings
    from .config import GcpSettings


def build_adapters(settings: "Settings | None" = None, gcp: "GcpSettings | None" = None, **options: Any) -> "Adapters":
    from .runtime import build

    return build(settings, gcp, **options)


__all__ = ["build_adapters"]
