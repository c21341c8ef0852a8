"""Google Cloud adapters (extra ``skyloop[gcp]``), imported lazily: Cloud Storage for blobs and
for state (compare-and-set on object generations), Pub/Sub for domain events and remediation
requests, Vertex AI for the registry, endpoints and training jobs, Cloud Monitoring for metric
windows, Cloud Run and Managed Instance Groups for remediation, Cloud Workflows for the rollout,
and the decoder of Eventarc's CloudEvents.

``table.py`` lists how ``skyloop.bootstrap`` builds them from ``SKYLOOP_GCP_*`` settings; each module
imports the SDKs inside its functions, so importing this package stays cheap.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...bootstrap import Table


def adapter_table() -> "Table":
    """This cloud's adapter table, imported on first use (``skyloop.bootstrap`` builds from it)."""
    from .table import TABLE

    return TABLE
