"""Trigger: drift was detected on a model's inference inputs or predictions.

The report is kept in the model group's drift history; with newer labelled data
named (``retrain_uri``) and ``drift.retrain`` on, a ``TrainingDataArrived`` goes on
the event channel, so retraining runs through the same train handler (size rule,
validation, gate) as any upload. Without newer data there is nothing to retrain on:
retraining on the data the model already learned would give the same model.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..events import DriftDetected, TrainingDataArrived
from ..once import once

if TYPE_CHECKING:
    from ..adapters import Adapters

log = logging.getLogger("skyloop.drift")


def on_drift(event: DriftDetected, adapters: "Adapters") -> dict[str, Any]:
    def run() -> dict[str, Any]:
        from ..drift.history import record

        record(adapters.kv, event.model_group, {
            "event_id": event.event_id, "version": event.version, "rows": event.rows,
            "features": event.drifted_features, "prediction": event.prediction_drifted,
            "psi": {f: r.get("psi") for f, r in (event.report.get("features") or {}).items()},
            "at": event.occurred_at.isoformat()})
        retrain = bool(event.retrain_uri) and adapters.settings.drift.retrain
        if retrain:
            ev = TrainingDataArrived(event_id=f"retrain:{event.event_id}", uri=str(event.retrain_uri),
                                     model_group=event.model_group)
            adapters.events.publish(ev)
        log.warning("drift", extra={"model_group": event.model_group, "version": event.version,
                                    "features": event.drifted_features, "retrain": retrain})
        return {"model_group": event.model_group, "version": event.version, "retrain_requested": retrain,
                "retrain_uri": event.retrain_uri if retrain else None,
                "why_not": None if retrain else ("no newer labelled data named" if not event.retrain_uri
                                                 else "drift.retrain is off")}

    return once(adapters.idempotency, f"drift:{event.event_id}", run)
