"""The key-value port's contract: read-modify-write safe under concurrent writers, and the size bound
every backend refuses above (the ``KeyValueStore`` protocol itself is in ``skyloop.ports``).

Two detect invocations for one service (a redelivery racing its original, two shards of a
metric stream) each read the detector state, learn, and write it back; with plain get/put the
second write silently erased the first one's learning. ``update`` re-reads and re-applies the
change until its compare-and-set wins, so every writer's change lands, in some order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..errors import StaleState, ValueTooLarge

if TYPE_CHECKING:
    from . import KeyValueStore

ATTEMPTS = 8


def update(kv: "KeyValueStore", key: str, change: Callable[[bytes | None], bytes], attempts: int = ATTEMPTS) -> bytes:
    """Apply ``change(current) -> new`` atomically; returns what was written.

    ``change`` may run more than once (each time on the freshest value), so it must be a pure
    function of its input. After ``attempts`` lost races the caller gets ``StaleState``
    (transient): its message is retried later instead of spinning here."""
    for _ in range(attempts):
        cur = kv.get_versioned(key)
        new = change(None if cur is None else cur[0])
        try:
            kv.put_if(key, new, None if cur is None else cur[1])
            return new
        except StaleState:
            continue
    raise StaleState(f"{key}: still contended after {attempts} attempts")


def check_size(kv: "KeyValueStore", key: str, value: bytes) -> None:
    if len(value) > kv.max_value_bytes:
        raise ValueTooLarge(f"{key}: {len(value):,} bytes is above this store's {kv.max_value_bytes:,}-byte value limit")


@dataclass(frozen=True)
class Family:
    """A family of keys in the key-value store: who alone writes it, how many keys it holds and how
    large one value may grow (what a table's capacity and a cost estimate are read from)."""

    owner: str  # the module that builds the family's keys
    keys: str  # how many there are
    bound: str  # how large one value grows, and what keeps it there


# Every key the key-value store holds starts with one of these (a test runs the demo and holds the
# store to the table). Prefixes are matched longest first.
KEY_FAMILIES: dict[str, Family] = {
    # the incident (incidents/repository.py owns all five)
    "anomaly:": Family("skyloop.incidents.repository", "one per incident", "one AnomalyFound, ~1 KB"),
    "incident:": Family("skyloop.incidents.repository", "one per service", "the open incident's id and last time"),
    "baseline:": Family("skyloop.incidents.repository", "one per incident", "median and scale per metric"),
    "verify:": Family("skyloop.incidents.repository", "one per service", "the actions awaiting a verdict"),
    "resolution:": Family("skyloop.incidents.repository", "one per incident", "its attempts, one per action tried"),
    # detection
    "detector:": Family("skyloop.detection.usecase", "one per service", "the detector's state; spills above the item limit"),
    "outbox:": Family("skyloop.outbox", "one per service", "one batch's staged effects, cleared once carried out"),
    "series:": Family("skyloop.detection.series", "one per service", "the last SERIES_ROWS rows of the metric tail"),
    "verification:index": Family("skyloop.remediation.verification", "one", "the services with actions pending"),
    "sweep:verification": Family("skyloop.remediation.verification", "one", "the time of the last sweep"),
    # remediation
    "applied:": Family("skyloop.remediation.applied", "one per request", "the plan and its result"),
    "approval:": Family("skyloop.remediation.approvals", "one per held request", "a person's decision"),
    "remediation:reservations": Family("skyloop.remediation.reservations", "one", "the live capacity reservations"),
    "remediation:cooldown:": Family("skyloop.composed.remediation", "one per target and action", "the last run time"),
    "remediation:action:": Family("skyloop.composed.remediation", "one per action run", "the action's row"),
    "remediation:recorded:": Family("skyloop.composed.remediation", "one per request", "that it was recorded"),
    "remediation:held:": Family("skyloop.composed.remediation", "one per held request", "the request and why"),
    "audit:": Family("skyloop.composed.remediation", "one per audit entry, and the head", "one entry"),
    # training, serving, drift
    "registry:alias:": Family("skyloop.ports.registry", "one per group and alias", "a version number"),
    "registry:idem:": Family("skyloop.ports.registry", "one per registration", "the version it became"),
    "gate:": Family("skyloop.serving.history", "one per group", "the last 500 approval-gate decisions"),
    "deployments:": Family("skyloop.serving.history", "one per group", "the last 200 deployment entries"),
    "canary:": Family("skyloop.serving.deployment", "one per group", "the baking canary's window"),
    "ab:": Family("skyloop.serving.abtest", "one per group", "the A/B test's counts"),
    "rollout-lock:": Family("skyloop.serving.rollout", "one per group", "the lease: owner, until, epoch"),
    "rollout-journal:": Family("skyloop.serving.rollout", "one per rollout and epoch", "the step effects it made"),
    "drift:": Family("skyloop.drift.history", "one per group", "the last 100 drift reports"),
    # the handlers' idempotency and the AI services
    "idempotency:": Family("skyloop.composed.idempotency", "one per event handled", "the handler's result"),
    "notified:": Family("skyloop.notify.deliver", "one per notice told", "the notice's kind and channels"),
    "notify:rate": Family("skyloop.notify.deliver", "one", "the notices' token bucket"),
    "batch-job:": Family("skyloop.ports.batch", "one per cloud batch job", "its input, version and service name (handlers/score.py writes it)"),
    "batch-failed:": Family("skyloop.ports.batch", "one per batch that could not be scored", "its reason (handlers/score.py writes it)"),
    "train-failed:": Family("skyloop.training.managed", "one per managed training that ended without a model",
                            "its reason (handlers/train.py writes it)"),
    "ai-job/": Family("skyloop.ai.uploads", "one per provider job", "the uploads waiting on it"),
    "vertex:": Family("skyloop.clouds.gcp", "one per training job and endpoint group", "a job name, an operation list"),
}


def family_of(key: str) -> str | None:
    """The family ``key`` belongs to (longest prefix), or None: a key no table lists."""
    found = [f for f in KEY_FAMILIES if key.startswith(f)]
    return max(found, key=len) if found else None


__all__ = ["ATTEMPTS", "KEY_FAMILIES", "Family", "check_size", "family_of", "update"]
