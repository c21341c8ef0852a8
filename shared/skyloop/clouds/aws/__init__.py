"""AWS adapters (extra ``skyloop[aws]``): S3, SQS + DLQ, EventBridge, DynamoDB,
SageMaker Model Registry / endpoints / training jobs, CloudWatch, ECS and SSM.

``table.py`` lists how ``skyloop.bootstrap`` builds them from ``SKYLOOP_AWS_*`` settings; each module
imports boto3 inside its constructors so importing this package stays cheap.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...bootstrap import Table


def adapter_table() -> "Table":
    """This cloud's adapter table, imported on first use (``skyloop.bootstrap`` builds from it)."""
    from .table import TABLE

    return TABLE
