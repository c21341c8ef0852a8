"""Who the caller is on Google Cloud: the account of the application-default credentials (a service
account's email, or the signed-in user gcloud names). An approval is recorded under it."""

from __future__ import annotations

import os

from ...errors import AccessDenied
from .config import GcpSettings


def caller(gcp: GcpSettings) -> str:
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError:  # pragma: no cover - the [gcp] extra brings it
        raise AccessDenied("google-auth is not installed: pip install 'skyloop[gcp]'") from None
    try:
        creds, _ = google.auth.default()
    except DefaultCredentialsError:
        creds = None
    for who in (getattr(creds, "service_account_email", None), getattr(creds, "account", None),
                os.environ.get("CLOUDSDK_CORE_ACCOUNT")):
        if who and who != "default":
            return str(who)
    raise AccessDenied("no Google account to record the decision under: gcloud auth application-default login "
                       "(or set CLOUDSDK_CORE_ACCOUNT to the account you act as)")
