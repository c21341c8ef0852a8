"""What every AWS event mapper shares: a malformed document is a typed refusal.

Its own module so the decoders (``events``) and the CloudWatch mappers (``cloudwatch``) can
both use it without importing each other.
"""

from __future__ import annotations

from ..decoding import typed_for

typed = typed_for("AWS")
