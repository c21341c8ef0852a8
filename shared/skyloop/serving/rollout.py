"""The rollout as short, idempotent steps that any runner can drive.

An endpoint update takes minutes on a cloud, so no step waits for one. A step starts what it
can check later; when the endpoint has not settled yet it hands back ``{"next": <itself>,
"wait": poll_seconds}`` and whoever runs the steps comes back then. Locally ``run_inline``
loops over them in one call; a cloud runs them on its workflow engine (Step Functions on AWS,
whose definition is generated from ``SUCCESSORS``), so the order of a rollout is written once.

The state is plain JSON, passed from step to step: the request, the version, the next step,
and ``done``, the side effects already carried out. A step that runs again (after a poll, an
engine's retry, a redelivered invocation) skips what ``done`` lists, so nothing happens twice.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..ports.kv import update
from ..errors import DeploymentFailed, InvalidRequest, ModelRefused, SkyloopError
from ..ports import Clock, Deployer, KeyValueStore, ModelRegistry
from ..versions import ModelVersion, Status
from .deployment import (
    CanaryCheck,
    canary_probe,
    canary_state,
    check_predictions,
    save_canary_state,
    smoke_rows,
    start_bake,
)
from .history import record_deployment
from ..ports.rollout import ABORTABLE, DONE

if TYPE_CHECKING:
    from ..adapters import Adapters
    from ..config import Settings

log = logging.getLogger("skyloop.rollout")

State = dict[str, Any]

# One rollout per model group at a time: a lease in the key-value store, taken by the entry step
# and given back when the rollout ends. A rollout that died without ending holds it this long.
LEASE_SECONDS = 3600.0


@dataclass
class RolloutContext:
    deployer: Deployer
    registry: ModelRegistry
    kv: KeyValueStore
    clock: Clock
    settings: "Settings"
    canary_check: CanaryCheck | None = None

    @classmethod
    def of(cls, adapters: "Adapters", canary_check: CanaryCheck | None = None) -> "RolloutContext":
        a = adapters
        return cls(a.deployer, a.registry, a.kv, a.clock, a.settings, canary_check)


def start_state(version: ModelVersion, request: str) -> State:
    """A rollout of an approved version, asked for by ``request`` (the event's id)."""
    st = {"group": version.group, "version": version.version, "request": request, "next": "begin", "wait": 0,
          "status": "running", "reason": "", "steps": [], "done": []}
    return {**st, "owner": execution_name(st)}


def promotion_state(group: str, version: int, request: str, *, after_bake: bool, how: str = "promoted") -> State:
    """Promote ``version``: a canary that passed its bake (it must still be the live canary), or
    a winner chosen elsewhere (an A/B test)."""
    st = {"group": group, "version": version, "request": request, "next": "promote", "wait": 0,
          "status": "running", "reason": "", "steps": [], "done": [], "after_bake": after_bake, "how": how}
    return {**st, "owner": execution_name(st)}


def execution_name(state: Mapping[str, Any]) -> str:
    """A name a workflow engine can key an execution by (80 characters of ``[A-Za-z0-9_-]``): the
    same request always maps to the same name, so starting it twice starts it once."""
    key = f"{state['group']}-v{state['version']}-{state['next']}-{state['request']}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', key)[:67]}-{digest}"


class _NotSettled(Exception):
    """Not yet (the endpoint still applies the last change, another rollout of the group holds
    the lease): come back after a poll interval."""


def _ready(st: State, c: RolloutContext) -> None:
    if not c.deployer.settled(st["group"]):
        raise _NotSettled("the endpoint to apply its last change")


def _lock_key(group: str) -> str:
    return f"rollout-lock:{group}"


def _lock(st: State, c: RolloutContext) -> None:
    """Take the group's rollout lease (an entry step's first effect): two rollouts of one group
    would otherwise interleave their endpoint changes."""
    if "lock" in st["done"]:
        return
    st["owner"] = _owner(st)
    now = c.clock.now()

    def take(raw: bytes | None) -> bytes:
        held = json.loads(raw) if raw else None
        if held and held["owner"] != st["owner"] and held["until"] > now:
            raise _NotSettled(f"rollout {held['owner']} to finish (its lease ends at {held['until']:.0f})")
        # the same rollout's retry keeps its epoch (and so its journal); a new one starts its own
        epoch = _live_epoch(raw, st["owner"], now) or f"{now:.6f}"
        return json.dumps({"owner": st["owner"], "until": now + LEASE_SECONDS, "epoch": epoch}).encode()

    st["epoch"] = json.loads(update(c.kv, _lock_key(st["group"]), take))["epoch"]
    st["done"].append("lock")


def _unlock(st: State, c: RolloutContext) -> None:
    def give_back(raw: bytes | None) -> bytes:
        held = json.loads(raw) if raw else None
        return b"null" if held and held["owner"] == st["owner"] else (raw or b"null")

    update(c.kv, _lock_key(st["group"]), give_back)


def _owner(st: State) -> str:
    """The rollout run's name, fixed when its entry step takes the lease (execution_name of that
    step's state), so an entry step retried with the state it started from has the same one."""
    return str(st.get("owner") or execution_name(st))


def _live_epoch(raw: bytes | None, owner: str, now: float) -> str | None:
    """The epoch of the group's lease if ``owner`` holds it and it has not run out."""
    held = json.loads(raw) if raw else None
    if isinstance(held, dict) and held.get("owner") == owner and held.get("until", 0) > now and "epoch" in held:
        return str(held["epoch"])
    return None


def _journal_key(st: State) -> str:
    """One journal per run of a rollout: its owner (the request) and the epoch of its lease, so a
    later run with the same name (a canary of the same version passing again) starts afresh."""
    return f"rollout-journal:{_owner(st)}:{st.get('epoch', '')}"


def _recall(st: State, c: RolloutContext) -> None:
    """Effects an earlier attempt of this very step carried out, whose state never came back: a
    workflow engine that lost a step's response (a Lambda timeout, a service error) retries it with
    the state it had, which does not list them. Without this the retry replayed them (7 endpoint
    updates instead of 5, "promoted" recorded twice). An entry step retried with the state it
    started from finds its epoch in the group's lease, which it still holds."""
    if "epoch" not in st:
        epoch = _live_epoch(c.kv.get(_lock_key(st["group"])), _owner(st), c.clock.now())
        if epoch is None:
            return
        st["epoch"] = epoch
    raw = c.kv.get(_journal_key(st))
    for label, note in json.loads(raw) if raw else []:
        if label not in st["done"]:
            st["done"].append(label)
            if note:
                st["steps"].append(note)


def _effect(st: State, c: RolloutContext, label: str, fn: Callable[[], object], *, endpoint: bool = True,
            note: str | None = None) -> None:
    """Carry out one side effect once per rollout. An endpoint change starts only on a settled
    endpoint (a cloud refuses a second update during the first). Each one is journalled in the
    key-value store as well as in the state: the state may be lost with a step's response."""
    if label in st["done"]:
        return
    if endpoint:
        _ready(st, c)
    fn()
    update(c.kv, _journal_key(st),
                   lambda raw: json.dumps([*(json.loads(raw) if raw else []), [label, note]]).encode())
    st["done"].append(label)
    if note:
        st["steps"].append(note)


def _finish(st: State, c: RolloutContext, status: str, reason: str = "") -> None:
    if "lock" in st["done"]:
        _unlock(st, c)
    st["status"], st["reason"], st["next"] = status, reason, DONE


def _version(st: State, c: RolloutContext) -> ModelVersion:
    return c.registry.get(st["group"], int(st["version"]))


# ---- the steps --------------------------------------------------------------------------
def _begin(st: State, c: RolloutContext) -> None:
    mv = _version(st, c)
    if mv.status != Status.APPROVED:
        raise DeploymentFailed(f"{mv.group} v{mv.version} is {mv.status.value}, not APPROVED")
    _lock(st, c)
    current = c.registry.alias(mv.group, "production")
    st["current"] = None if current is None else current.version
    if st["current"] == mv.version:
        # asked again for the version that serves: put its verified artifact back in place
        # (an endpoint lost or edited by hand), with no canary against itself
        st["next"] = "redeploy"
        return
    live = canary_state(c.kv, mv.group)
    if live is not None and live["version"] != mv.version:
        def supersede() -> None:
            record_deployment(c.kv, mv.group, {"kind": "canary_superseded", "version": live["version"],
                                               "by": mv.version, "at": c.clock.now()})
            save_canary_state(c.kv, mv.group, None)

        _effect(st, c, "supersede canary", supersede, endpoint=False,
                note=f"replaces the baking canary v{live['version']}")
    st["next"] = "staging"


def _redeploy(st: State, c: RolloutContext) -> None:
    g, v = st["group"], int(st["version"])
    _effect(st, c, "deploy production", lambda: c.deployer.deploy(g, "production", _version(st, c)))
    _effect(st, c, "traffic production", lambda: c.deployer.set_traffic(g, {"production": 1.0}))
    _effect(st, c, "record", lambda: record_deployment(
        c.kv, g, {"kind": "redeployed", "version": v, "previous": v, "at": c.clock.now()}), endpoint=False,
        note="production: redeployed (artifact sha256 verified)")
    _finish(st, c, "redeployed", f"v{v} already served production: redeployed in place")


def _staging(st: State, c: RolloutContext) -> None:
    g, v = st["group"], int(st["version"])
    _effect(st, c, "deploy staging", lambda: c.deployer.deploy(g, "staging", _version(st, c)))  # verifies sha256
    _effect(st, c, "alias staging", lambda: c.registry.set_alias(g, "staging", v), endpoint=False,
            note="staging: deployed (artifact sha256 verified)")
    st["next"] = "smoke"


def _smoke(st: State, c: RolloutContext) -> None:
    _ready(st, c)
    mv = _version(st, c)
    rows = smoke_rows(mv.lineage, c.settings.deployment.smoke_rows)
    problem = check_predictions(mv, c.deployer.predict(mv.group, rows, slot="staging"), len(rows))
    if problem:
        raise ModelRefused(f"smoke test failed: {problem}")
    st["steps"].append(f"staging: smoke test passed on {len(rows)} schema rows")
    st["next"] = "canary" if st.get("current") is not None else "promote"


def _canary(st: State, c: RolloutContext) -> None:
    g, v = st["group"], int(st["version"])
    pct = c.settings.deployment.canary_percent
    _effect(st, c, "deploy canary", lambda: c.deployer.deploy(g, "canary", _version(st, c)))
    _effect(st, c, "traffic canary",
            lambda: c.deployer.set_traffic(g, {"production": 1.0 - pct / 100.0, "canary": pct / 100.0}))
    _effect(st, c, "alias canary", lambda: c.registry.set_alias(g, "canary", v), endpoint=False,
            note=f"canary: {pct:g}% of traffic")
    st["next"] = "probe"


def _probe(st: State, c: RolloutContext) -> None:
    _ready(st, c)
    mv, d = _version(st, c), c.settings.deployment
    problem = canary_probe(mv, c.deployer, d.canary_requests, d.max_canary_error_rate)
    if problem is None and c.canary_check is not None:
        problem = c.canary_check(mv.group, mv.version)
    if problem:
        raise ModelRefused(f"canary failed: {problem}")
    st["steps"].append(f"canary: {d.canary_requests} probe requests healthy")
    st["next"] = "bake" if d.canary_bake_minutes > 0 else "promote"


def _bake(st: State, c: RolloutContext) -> None:
    """Staging has done its job (on a cloud it would hold an instance through the bake); the
    canary then bakes on live traffic until the detector passes it (CanaryPassed -> promote) or
    remediation aborts it. The rollout itself ends here."""
    g, v, d = st["group"], int(st["version"]), c.settings.deployment
    _effect(st, c, "undeploy staging", lambda: c.deployer.undeploy(g, "staging"))
    _effect(st, c, "unalias staging", lambda: c.registry.set_alias(g, "staging", None), endpoint=False)
    _effect(st, c, "start bake", lambda: start_bake(
        g, v, kv=c.kv, clock=c.clock, minutes=d.canary_bake_minutes, previous=int(st["current"]),
        min_minutes=d.canary_min_minutes), endpoint=False,
        note=f"canary: baking {d.canary_bake_minutes:g} min on live traffic, judged by the detector against production")
    _finish(st, c, "canary")


def _promote(st: State, c: RolloutContext) -> None:
    g, v = st["group"], int(st["version"])
    _lock(st, c)  # an entry step too: a passed canary, an A/B winner
    if st.get("after_bake") and st["done"] == ["lock"]:
        live = canary_state(c.kv, g)
        if live is None or live["version"] != v:
            _finish(st, c, "skipped", f"v{v} is not the live canary of {g}: nothing to promote")
            return
        mv = _version(st, c)
        if mv.status != Status.APPROVED:
            save_canary_state(c.kv, g, None)
            _finish(st, c, "skipped", f"v{v} is {mv.status.value}: not promoted")
            return
    if "current" not in st:
        current = c.registry.alias(g, "production")
        st["current"] = None if current is None else current.version
    _effect(st, c, "deploy production", lambda: c.deployer.deploy(g, "production", _version(st, c)))
    _effect(st, c, "traffic production", lambda: c.deployer.set_traffic(g, {"production": 1.0}))
    _effect(st, c, "undeploy canary", lambda: c.deployer.undeploy(g, "canary"))
    _effect(st, c, "undeploy staging", lambda: c.deployer.undeploy(g, "staging"))
    how = st.get("how", "promoted")

    def promoted() -> None:
        c.registry.set_alias(g, "canary", None)
        c.registry.set_alias(g, "staging", None)
        c.registry.set_alias(g, "production", v)
        save_canary_state(c.kv, g, None)
        record_deployment(c.kv, g, {"kind": how, "version": v, "previous": st["current"], "at": c.clock.now()})
        log.info(how, extra={"model_group": g, "version": v})

    _effect(st, c, "promoted", promoted, endpoint=False, note="production: 100% of traffic")
    _finish(st, c, "promoted", "after its bake" if st.get("after_bake") else "")


# what blames the candidate, so rejects it: its own judgement failed, or its artifact is not the one
# the registry vouches for. Anything else (a timeout, a quota, an image that cannot load it, an
# endpoint that never settled, an error the engine caught) is the platform's: rolled back, APPROVED.
BLAMES_THE_MODEL = frozenset({"ModelRefused", "ArtifactIntegrityError"})


def _abort(st: State, c: RolloutContext) -> None:
    """Traffic back on production, the candidate's slots cleared; the version REJECTED when the
    failure was the candidate's own, left APPROVED (to deploy again) when it was the platform's."""
    g, v = st["group"], int(st["version"])
    failed, reason = st.get("failed_step", "?"), st.get("failed_reason", "")
    caught = st.pop("caught", None)
    if caught and not reason:  # the workflow engine caught what a step raised (its retries exhausted)
        failed, reason = st["next"], f"{caught.get('Error')}: {str(caught.get('Cause'))[:300]}"
        st["failed_step"], st["failed_reason"] = failed, reason
    current = st.get("current")
    if current is not None and c.deployer.slots(g).get("production") != current:
        # the endpoint lost production (a failed endpoint is deleted: nothing else can be done to it)
        _effect(st, c, "abort restore production", lambda: c.deployer.deploy(g, "production", c.registry.get(g, current)))
    _effect(st, c, "abort traffic",
            lambda: c.deployer.set_traffic(g, {"production": 1.0} if current is not None else {}))
    _effect(st, c, "abort undeploy canary", lambda: c.deployer.undeploy(g, "canary"))
    _effect(st, c, "abort undeploy staging", lambda: c.deployer.undeploy(g, "staging"))

    blamed = st.get("error") in BLAMES_THE_MODEL

    def rejected() -> None:
        for slot in ("canary", "staging"):
            c.registry.set_alias(g, slot, None)
        if blamed and c.registry.get(g, v).status != Status.REJECTED:
            c.registry.set_status(g, v, Status.REJECTED, actor="deployment", note=f"{failed}: {reason}")
        record_deployment(c.kv, g, {"kind": "aborted", "version": v, "step": failed, "reason": reason,
                                    "blames": "model" if blamed else "platform", "at": c.clock.now()})
        log.warning("rollout aborted", extra={"model_group": g, "version": v, "step": failed, "reason": reason,
                                              "blames": "model" if blamed else "platform"})

    _effect(st, c, "rejected", rejected, endpoint=False)
    _finish(st, c, "rolled_back", reason)


STEPS: dict[str, Callable[[State, RolloutContext], None]] = {
    "begin": _begin, "redeploy": _redeploy, "staging": _staging, "smoke": _smoke, "canary": _canary,
    "probe": _probe, "bake": _bake, "promote": _promote, "abort": _abort,
}


def run_step(step: str, state: Mapping[str, Any], ctx: RolloutContext) -> State:
    """Run one step on a copy of ``state`` and return the state for the next one.

    A permanent failure in a step that may abort hands over to ``abort`` (with the step and the
    reason); a transient one, or any failure elsewhere, is raised for the runner to retry or fail.
    """
    if step not in STEPS:
        raise InvalidRequest(f"unknown rollout step {step!r}; known: {', '.join(STEPS)}")
    st: State = copy.deepcopy(dict(state))
    st.setdefault("done", [])
    st.setdefault("steps", [])
    st["wait"] = 0
    try:
        try:
            _recall(st, ctx)
            STEPS[step](st, ctx)
        except (_NotSettled, SkyloopError):
            raise
        except Exception as exc:  # a bug, or an SDK error no adapter named: permanent, never a held lease
            raise DeploymentFailed(f"{type(exc).__name__} at step {step}: {exc}"[:300], step=step) from exc
    except _NotSettled as waiting:
        polls = int(st.get("polls", 0)) + 1
        if polls > ctx.settings.deployment.max_polls:
            return _failed(step, st, ctx, DeploymentFailed(
                f"still waiting for {waiting} after {polls - 1} polls at step {step}", step=step))
        st["next"], st["wait"], st["waiting_for"], st["polls"] = step, ctx.settings.deployment.poll_seconds, str(waiting), polls
    except SkyloopError as exc:
        if exc.retryable:
            raise
        return _failed(step, st, ctx, exc)
    else:
        st["polls"] = 0  # the step is done: the next one has its own bound
    return st


def step_request(raw: Any) -> tuple[str, State]:
    """The one envelope every workflow engine sends a step (Step Functions, Workflows, Durable
    Functions): ``{"step": <name>, "state": {...}}``; anything else is a typed refusal."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("step"), str) or not isinstance(raw.get("state"), Mapping):
        raise InvalidRequest('a rollout step takes {"step": <name>, "state": {...}}')
    return raw["step"], dict(raw["state"])


def _failed(step: str, st: State, ctx: RolloutContext, exc: SkyloopError) -> State:
    """A step that failed for good: an abortable one hands over to abort; any other fails the request
    and gives back the group's lease, so the next rollout need not wait for it."""
    if step not in ABORTABLE:
        if "lock" in st["done"]:
            _unlock(st, ctx)
        raise exc
    st.update(next="abort", failed_step=step, failed_reason=exc.reason, error=type(exc).__name__)
    return st


def run_inline(state: Mapping[str, Any], ctx: RolloutContext, *, sleep: Callable[[float], None] = time.sleep,
               max_polls: int = 120) -> State:
    """Drive the steps to the end in this process (the local runner, and any cloud without a
    workflow engine configured): a step that must wait sleeps its poll interval first."""
    st: State = dict(state)
    polls = 0
    while st["next"] != DONE:
        if st.get("wait"):
            polls += 1
            if polls > max_polls:
                raise DeploymentFailed(f"{st['group']} v{st['version']}: still waiting for {st.get('waiting_for')} "
                                       f"after {max_polls} polls at step {st['next']}", step=st["next"])
            sleep(float(st["wait"]))
        st = run_step(st["next"], st, ctx)
    return st


# ---- the same steps, run here to their end -----------------------------------------------
def outcome(st: Mapping[str, Any]) -> dict[str, Any]:
    """What a finished rollout reports (the handler's answer)."""
    return {"model_group": st["group"], "version": int(st["version"]), "status": st["status"],
            "reason": st.get("reason", ""), "steps": list(st.get("steps", []))}


def rollout(version: ModelVersion, ctx: RolloutContext, *, request: str = "") -> dict[str, Any]:
    """Run a whole rollout of an APPROVED version here. A candidate that fails a check is rolled
    back and the failure raised (``ArtifactIntegrityError`` for bytes the registry does not
    vouch for, else ``DeploymentFailed`` naming the step)."""
    from ..errors import ArtifactIntegrityError

    st = run_inline(start_state(version, request), ctx)
    if st["status"] == "rolled_back":
        if st.get("error") == ArtifactIntegrityError.__name__:
            raise ArtifactIntegrityError(st["failed_reason"])
        raise DeploymentFailed(f"{st['group']} v{st['version']} rolled back at {st['failed_step']}: "
                               f"{st['failed_reason']}", step=st["failed_step"])
    return outcome(st)


def promote(version: ModelVersion, ctx: RolloutContext, *, how: str = "promoted") -> dict[str, Any]:
    """Make ``version`` serve all traffic and clear the candidate slots (an A/B test's winner)."""
    return outcome(run_inline(promotion_state(version.group, version.version, how, after_bake=False, how=how), ctx))


def complete_canary(group: str, version: int, ctx: RolloutContext) -> str:
    """Promote a canary that passed its bake; a no-op (with why) if it is no longer the live canary."""
    st = run_inline(promotion_state(group, version, "canary-passed", after_bake=True), ctx)
    return st["reason"] if st["status"] == "skipped" else f"v{version} promoted after its bake"
