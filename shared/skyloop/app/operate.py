"""What the CLI runs a command on when it points at a deployed stack (``--cloud``): that cloud's
adapters, built by the same bootstrap its functions use, with the caller's own identity. The
functions drain the queues there, so nothing here pumps: an approval publishes its event for the
deploy function, an approved held request goes back on the remediation queue for the remediate
function, which carries it out through the same guardrails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..bootstrap import bootstrap, table

if TYPE_CHECKING:
    from ..config import Settings
    from ..events import RemediationRequested


class CloudOperator:
    def __init__(self, cloud: str, settings: "Settings") -> None:
        self.cloud, self.settings = cloud, settings
        self._table = table(cloud)
        self.cloud_settings = self._table.settings()
        self.adapters = bootstrap(cloud, settings, self.cloud_settings)

    @property
    def registry(self) -> Any:
        return self.adapters.registry

    @property
    def deployer(self) -> Any:
        return self.adapters.deployer

    def caller(self) -> str:
        """The caller's cloud identity (STS ARN, Google account, Entra object id)."""
        return self._table.caller(self.cloud_settings)

    def decide_held(self, request_id: str, decision: str, *, actor: str, note: str | None = None) -> "RemediationRequested":
        from ..remediation.approvals import decide_in

        return decide_in(self.adapters, request_id, decision, actor=actor, note=note)  # type: ignore[arg-type]

    def close(self) -> None:
        pass


__all__ = ["CloudOperator"]
