"""Guardrails: the policy every remediation passes before anything changes.

Pure function of the request, the policy, the remembered state and the clock,
so it is tested exhaustively without an executor. Order matters: the cheapest
and most absolute checks (allow-lists) come first, approval last, so a request
that would be refused anyway never waits for a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Literal, Protocol

from ..config import GuardrailSettings
from ..events import RemediationRequested
from .actions import ActionSpec

Verdict = Literal["allow", "refuse", "approval"]


class Remembers(Protocol):
    """What the guardrails read of their memory (a ``RemediationState``, or the reservations
    document in remediation/reservations.py)."""

    def last_executed(self, target: str, action: str) -> float | None: ...

    def count_since(self, since: float) -> int: ...


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


def evaluate(
    req: RemediationRequested,
    spec: ActionSpec,
    policy: GuardrailSettings,
    state: Remembers,
    now: float,
    approved: bool = False,
) -> Decision:
    """``approved``: a person's approval record exists for this request (remediation/approvals.py);
    the request's own ``approved`` field is never trusted."""
    if req.action not in policy.allowed_actions:
        return Decision("refuse", f"action {req.action} is not in the allow-list")
    if not any(fnmatch(req.target, pat) for pat in policy.allowed_targets):
        return Decision("refuse", f"target {req.target} is not in the allow-list")
    if req.action == "notify":
        return Decision("allow", "notify changes nothing")
    last = state.last_executed(req.target, req.action)
    if last is not None and now - last < policy.cooldown_seconds:
        return Decision("refuse", f"cooldown: {req.action} on {req.target} ran {now - last:.0f}s ago (< {policy.cooldown_seconds:.0f}s)")
    recent = state.count_since(now - policy.window_seconds)
    if recent >= policy.max_actions_per_window:
        return Decision("refuse", f"rate limit: {recent} actions in the last {policy.window_seconds:.0f}s")
    # What the action may do to this target (the replica bound, a model to act on) is the plan's
    # to say (plans.py): the use-case turns a plan it cannot make into a refusal.
    is_destructive = spec.destructive or req.action in policy.destructive_actions
    if is_destructive and req.severity >= policy.approval_severity and not approved:
        return Decision("approval", f"{req.action} at {req.severity.value} severity needs human approval")
    return Decision("allow", "within policy")
