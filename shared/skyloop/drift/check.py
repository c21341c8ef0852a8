"""Check recent inference inputs for drift against production's training data, and say so.

Shared by ``skyloop drift`` (a CSV of recent inputs) and the demo (the rows it served): the
report is computed against the production version's drift reference, and drift puts a
``DriftDetected`` on the event channel, naming newer labelled data to retrain on if given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from ..adapters import Adapters
    from .stats import DriftReport


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def check_drift(adapters: "Adapters", group: str, rows: Sequence[Mapping[str, Any]],
                retrain_uri: str | None = None) -> tuple["DriftReport", dict[str, Any]]:
    """(report, summary). The summary carries the emitted event id when drift was found."""
    import numpy as np

    from .stats import DriftThresholds, drift_report
    from ..events import DriftDetected

    mv = adapters.registry.alias(group, "production")
    if mv is None or "drift_reference" not in mv.lineage:
        raise NotFound(f"{group} has no production version with a drift reference")
    wanted = list(mv.lineage["features"])
    features = [f for f in wanted if any(f in r for r in rows)]
    if not features:
        raise InvalidRequest("the recent rows have none of the model's features")
    columns = {f: np.array([r[f] for r in rows if _present(r.get(f))]) for f in features}
    complete = [{f: r[f] for f in wanted} for r in rows if all(_present(r.get(f)) for f in wanted)]
    preds = adapters.deployer.predict(group, complete, slot="production") if complete else None
    t = adapters.settings.drift
    report = drift_report(mv.lineage["drift_reference"], columns, preds,
                          DriftThresholds(psi=t.psi, ks_alpha=t.ks_alpha, ks_min_d=t.ks_min_d, min_rows=t.min_rows))
    out: dict[str, Any] = {"model_group": group, "version": mv.version, **report.to_dict(), "event_id": None}
    if report.drifted:
        ev = DriftDetected(model_group=group, version=mv.version, rows=report.rows, drifted_features=report.drifted_features,
                           prediction_drifted=bool(report.prediction and report.prediction["drifted"]),
                           report=report.to_dict(), retrain_uri=retrain_uri)
        adapters.events.publish(ev)
        out["event_id"] = ev.event_id
    return report, out
