"""Trigger: a remediation request arrived on the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import RemediationRequested
from ..remediation.usecase import remediate
from ..once import once

if TYPE_CHECKING:
    from ..adapters import Adapters


def on_remediation(event: RemediationRequested, adapters: "Adapters", *, dry_run: bool | None = None) -> dict[str, Any]:
    dry = adapters.settings.dry_run if dry_run is None else dry_run
    from ..remediation.approvals import approved

    # A request a person approved since it was held is a different decision, so a different key;
    # the message's own "approved" field counts for nothing (remediation/approvals.py).
    key = f"remediate:{event.request_id}:{'approved' if approved(adapters.kv, event.request_id) else 'auto'}:{'dry' if dry else 'live'}"

    def run() -> dict[str, Any]:
        done = remediate(
            event, executor=adapters.executor, audit=adapters.audit, state=adapters.state,
            clock=adapters.clock, settings=adapters.settings, dry_run=dry, kv=adapters.kv,
            deployer=adapters.deployer, registry=adapters.registry,
        )
        return done.model_dump(mode="json")

    return once(adapters.idempotency, key, run)
