"""Who the caller is on Azure: the Entra object id (and name) in the token DefaultAzureCredential
gets for Azure Resource Manager. The token's claims are read, not verified: they name the caller
to the record; Azure verifies the token on every call the command makes."""

from __future__ import annotations

import base64
import json
import os

from ...errors import AccessDenied
from .config import AzureSettings


def caller(azure: AzureSettings) -> str:
    explicit = os.environ.get("SKYLOOP_AZURE_CALLER")
    if azure.connection_string and explicit:  # a shared-key connection (Azurite) has no person behind it
        return f"{explicit} (self-declared over a shared-key connection)"
    try:
        from .storage import _credential

        token = _credential().get_token("https://management.azure.com/.default").token
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception as exc:  # noqa: BLE001 - any failure to sign in is the same refusal
        raise AccessDenied(f"no Entra identity to record the decision under ({type(exc).__name__}): az login "
                           "and try again") from None
    oid = claims.get("oid") or claims.get("sub")
    name = claims.get("upn") or claims.get("unique_name") or claims.get("appid")
    return f"{oid} ({name})" if name else str(oid)
