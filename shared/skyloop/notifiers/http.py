"""One POST of JSON, answered the way the delivery rule needs: 2xx is done; a timeout, a connection
refused, a 429 or a 5xx is ``TransientError`` (retried); another 4xx is permanent (dead-lettered with
the reason). The URL is a secret (a webhook's URL is its credential): it is never in an error or a log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from ..errors import ChannelRefused, TransientError


def post_json(url: str, doc: Any, *, channel: str, timeout: float) -> None:
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "skyloop"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:  # noqa: S310 - the operator's own endpoint
            res.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise TransientError(f"{channel} answered {exc.code}; retried later") from None
        raise ChannelRefused(f"{channel} refused the notice with {exc.code}: check its configuration") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientError(f"{channel} unreachable ({type(reason).__name__}); retried later") from None


__all__ = ["post_json"]
