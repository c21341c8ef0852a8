"""Azure adapters (extra ``skyloop[azure]``), imported lazily: Blob Storage for blobs, Table
Storage for state and idempotency (compare-and-set on the entity's ETag), Storage Queues for
remediation (a poison queue for what can never succeed), Event Grid for domain events, Azure
Machine Learning for the registry, managed online endpoints and command jobs, Azure Monitor for
metric windows, Container Apps, App Service and VM Scale Sets for remediation, Durable Functions
for the rollout, and the decoder of Event Grid and Azure Monitor shapes.

``build_adapters()`` wires them from ``SKYLOOP_AZURE_*`` settings (``runtime.py``); each module
imports the SDKs inside its functions, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...adapters import Adapters
    from ...config import Settings
    from .config import AzureSettings


def build_adapters(settings: "Settings | None" = None, azure: "AzureSettings | None" = None, **options: Any) -> "Adapters":
    from .runtime import build

    return build(settings, azure, **options)


__all__ = ["build_adapters"]
