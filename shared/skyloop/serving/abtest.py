"""A/B test between production (A) and a challenger (B) on a binary outcome, decided with a
fixed-horizon two-proportion z-test whose sample size is computed up front.

Fixed horizon, not "peek until significant": the decision is only taken once both arms have
the planned number of outcomes (``sample_size``), which keeps the false-positive rate at
``alpha``. Before that the answer is ``continue``; after it, ``b_wins`` / ``a_wins`` when the
difference is significant, else ``inconclusive`` (production stays: a challenger has to earn
its place).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .rollout import RolloutContext

Verdict = Literal["continue", "b_wins", "a_wins", "inconclusive"]
_N = NormalDist()


def sample_size(p_base: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Outcomes needed per arm to detect an absolute lift of ``mde`` over ``p_base``
    (two-sided, pooled variance under H0)."""
    if not (0 < p_base < 1 and 0 < p_base + mde < 1 and mde != 0):
        raise ValueError("need 0 < p_base < 1 and 0 < p_base + mde < 1, mde != 0")
    p2 = p_base + mde
    pbar = (p_base + p2) / 2
    za, zb = _N.inv_cdf(1 - alpha / 2), _N.inv_cdf(power)
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p_base * (1 - p_base) + p2 * (1 - p2))) ** 2 / mde**2
    return math.ceil(n)


@dataclass(frozen=True)
class ABDecision:
    verdict: Verdict
    n_required: int
    a_n: int
    b_n: int
    a_rate: float | None
    b_rate: float | None
    lift: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(a_success: int, a_n: int, b_success: int, b_n: int, *, p_base: float, mde: float,
           alpha: float = 0.05, power: float = 0.8) -> ABDecision:
    n_req = sample_size(p_base, mde, alpha=alpha, power=power)
    ra = a_success / a_n if a_n else None
    rb = b_success / b_n if b_n else None
    if a_n < n_req or b_n < n_req:
        return ABDecision("continue", n_req, a_n, b_n, ra, rb, None if ra is None or rb is None else rb - ra, None)
    assert ra is not None and rb is not None  # both arms reached n_req >= 1
    pooled = (a_success + b_success) / (a_n + b_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a_n + 1 / b_n))
    z = 0.0 if se == 0 else (rb - ra) / se
    p = 2 * (1 - _N.cdf(abs(z)))
    verdict: Verdict = "inconclusive" if p >= alpha else ("b_wins" if rb > ra else "a_wins")
    return ABDecision(verdict, n_req, a_n, b_n, ra, rb, rb - ra, p)


# ---- the experiment on a live model group (state in the key-value store) --------------------
def _key(group: str) -> str:
    return f"ab:{group}"


def start(group: str, version: int, *, split: float, p_base: float, mde: float, alpha: float = 0.05,
          power: float = 0.8, deployer: Any, registry: Any, kv: Any) -> dict[str, Any]:
    """Serve ``version`` as B beside production (A), splitting traffic ``split`` to B. A PENDING
    version is approved by starting the test (the test is its rollout; it wins or is rejected)."""
    from ..errors import StateConflict
    from ..ports.registry import Status

    a = registry.alias(group, "production")
    b = registry.get(group, version)
    if a is None:
        raise StateConflict(f"{group} has no production version to test against")
    if b.status not in (Status.APPROVED, Status.PENDING) or b.version == a.version:
        raise StateConflict(f"{group} v{version} must be a pending or approved version other than production "
                            f"(v{a.version})")
    if not 0 < split < 1:
        raise ValueError("split must be between 0 and 1")
    n_req = sample_size(p_base, mde, alpha=alpha, power=power)
    deployer.deploy(group, "canary", b)  # verifies the artifact's sha256
    if b.status == Status.PENDING:  # the experiment is its approval path: no canary rollout is started
        registry.set_status(group, version, Status.APPROVED, actor="ab-test", note=f"approved to run as B against v{a.version}")
    deployer.set_traffic(group, {"production": 1 - split, "canary": split})
    registry.set_alias(group, "canary", b.version)
    state = {"a": a.version, "b": b.version, "split": split, "p_base": p_base, "mde": mde, "alpha": alpha,
             "power": power, "n_required": n_req, "counts": {"a": [0, 0], "b": [0, 0]}, "status": "running"}
    kv.put(_key(group), json.dumps(state).encode())
    return state


def record(group: str, arm: Literal["a", "b"], successes: int, trials: int, *, kv: Any) -> dict[str, Any]:
    """Log outcomes for one arm (e.g. conversions fed back by the application)."""
    from ..errors import NotFound

    raw = kv.get(_key(group))
    if raw is None:
        raise NotFound(f"no A/B test running for {group}")
    if not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials")
    state = json.loads(raw)
    state["counts"][arm][0] += successes
    state["counts"][arm][1] += trials
    kv.put(_key(group), json.dumps(state).encode())
    return state


def conclude(group: str, *, apply: bool, ctx: "RolloutContext") -> dict[str, Any]:
    """Decide; with ``apply``, promote B on ``b_wins``, else put all traffic back on A."""
    from ..errors import NotFound
    from ..versions import Status
    from .deployment import abort_candidate
    from .rollout import promote

    registry, kv = ctx.registry, ctx.kv

    raw = kv.get(_key(group))
    if raw is None:
        raise NotFound(f"no A/B test running for {group}")
    st = json.loads(raw)
    (sa, na), (sb, nb) = st["counts"]["a"], st["counts"]["b"]
    d = decide(sa, na, sb, nb, p_base=st["p_base"], mde=st["mde"], alpha=st["alpha"], power=st["power"])
    out = {"model_group": group, "a": st["a"], "b": st["b"], **d.to_dict(), "applied": False}
    if apply and d.verdict != "continue":
        if d.verdict == "b_wins":
            promote(registry.get(group, st["b"]), ctx, how="promoted_by_ab_test")
        else:
            abort_candidate(group, deployer=ctx.deployer, registry=registry)
            if d.verdict == "a_wins":
                registry.set_status(group, st["b"], Status.REJECTED, actor="ab-test",
                                    note=f"lost to v{st['a']} (p={d.p_value:.3g})")
        st["status"] = d.verdict
        kv.put(_key(group), json.dumps(st).encode())
        out["applied"] = True
    return out
