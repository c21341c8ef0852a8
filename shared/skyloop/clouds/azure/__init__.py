"""Azure adapters (extra ``skyloop[azure]``), imported lazily: Blob Storage for blobs, Table
Storage for state and idempotency (compare-and-set on the entity's ETag), Storage Queues for
remediation (a poison queue for what can never succeed), Event Grid for domain events, Azure
Machine Learning for the registry, managed online endpoints and command jobs, Azure Monitor for
metric windows, Container Apps, App Service and VM Scale Sets for remediation, Durable Functions
for the rollout, and the decoder of Event Grid and Azure Monitor shapes.

``table.py`` lists how ``skyloop.bootstrap`` builds them from ``SKYLOOP_AZURE_*`` settings; each module
imports the SDKs inside its functions, so importing this package stays cheap.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...bootstrap import Table


def adapter_table() -> "Table":
    """This cloud's adapter table, imported on first use (``skyloop.bootstrap`` builds from it)."""
    from .table import TABLE

    return TABLE
