"""Every sample in events/azure/ through the one Azure decoder (skyloop.clouds.azure.events): what
each means in domain events, what is acknowledged without effect, what is refused and why. The
samples are read back by the Azure SDKs' own parsers (azure-core's CloudEvent, azure-eventgrid's
EventGridEvent), so they are well-formed in each schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from skyloop.errors import InvalidEvent
from skyloop.events import MetricAlarm, ModelVersionApproved, RemediationRequested, TrainingDataArrived

from skyloop.clouds.azure.events import to_domain

EVENTS = Path(__file__).resolve().parents[2] / "events" / "azure"


def sample(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def decode(raw: Any) -> list[Any]:
    return to_domain(raw, container="datasets")


def test_a_blob_upload_in_either_schema_is_training_data() -> None:
    [eg] = decode(sample("eventgrid-blob-created.json"))
    [ce] = decode(sample("cloudevents-blob-created.json"))
    assert isinstance(eg, TrainingDataArrived)
    assert (eg.uri, eg.size, eg.version) == ("https://skyloopdata.blob.core.windows.net/datasets/churn%202026.csv",
                                             11847, '"0x8DE2C9A1B2C3D4E"')
    assert eg.model_dump(exclude={"occurred_at"}) == ce.model_dump(exclude={"occurred_at"})


def test_the_sdks_read_the_samples() -> None:
    from azure.core.messaging import CloudEvent

    ce = CloudEvent.from_dict(sample("cloudevents-blob-created.json"))
    assert ce.type == "Microsoft.Storage.BlobCreated" and ce.data["contentLength"] == 11847
    eventgrid = pytest.importorskip("azure.eventgrid")
    for name in ("eventgrid-blob-created.json", "eventgrid-model-registered-approved.json"):
        [raw] = sample(name)
        ev = eventgrid.EventGridEvent.from_dict(raw)
        assert ev.event_type == raw["eventType"] and ev.subject == raw["subject"]


def test_what_is_acknowledged_without_effect() -> None:
    assert decode(sample("eventgrid-sidecar-created.json")) == []
    assert decode(sample("eventgrid-model-registered-pending.json")) == []
    assert decode(sample("monitor-common-alert-resolved.json")) == []
    raw = sample("eventgrid-blob-created.json")
    raw[0]["data"]["api"] = "CreateFile"  # ADLS Gen2: FlushWithClose completes the file later
    assert decode(raw) == []


def test_an_approved_registration_is_an_approval() -> None:
    [ok] = decode(sample("eventgrid-model-registered-approved.json"))
    assert isinstance(ok, ModelVersionApproved)
    assert (ok.model_group, ok.version, ok.approved_by) == ("churn-2026", 3, "oncall@example.com")


def test_a_fired_alert_is_an_alarm_on_its_service_never_a_guessed_one() -> None:
    [alarm] = decode(sample("monitor-common-alert-fired.json"))
    assert isinstance(alarm, MetricAlarm) and (alarm.service, alarm.alarm, alarm.metric) == ("api", "api-cpu-high", "UsageNanoCores")
    with pytest.raises(InvalidEvent, match="names no service"):
        decode(sample("monitor-common-alert-no-service.json"))
    labelled = sample("monitor-common-alert-no-service.json")
    labelled["data"]["customProperties"] = {"skyloop-service": "batch"}
    assert decode(labelled)[0].service == "batch"


def test_a_queue_message_is_a_domain_event() -> None:
    [req] = decode(sample("queue-remediation-requested.json"))
    assert isinstance(req, RemediationRequested) and req.action == "scale_out"


@pytest.mark.parametrize("mutate,why", [
    (lambda r: r[0].update(subject="/blobServices/default/containers/other/blobs/x.csv"), "not the datasets container"),
    (lambda r: r[0].update(subject="/blobServices/default/containers/datasets"), "names no blob"),
    (lambda r: r[0]["data"].update(contentLength="big"), "malformed Azure event"),
    (lambda r: r[0].update(eventType="Microsoft.Storage.BlobDeleted"), "not one Skyloop takes"),
    (lambda r: r[0].pop("data"), "malformed Azure event"),
])
def test_malformed_events_are_typed_refusals(mutate: Any, why: str) -> None:
    raw = copy.deepcopy(sample("eventgrid-blob-created.json"))
    mutate(raw)
    with pytest.raises(InvalidEvent, match=why):
        decode(raw)


def test_every_sample_is_decoded_or_refused_with_a_reason() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        try:
            out = decode(json.loads(path.read_text()))
        except InvalidEvent as e:
            assert e.reason, path.name
        else:
            assert isinstance(out, list), path.name


def test_a_completed_sftp_upload_is_training_data_and_its_start_is_not() -> None:
    raw = sample("eventgrid-blob-created.json")
    raw[0]["data"]["api"] = "SftpCommit"  # an SFTP client finished the file (SftpCreate began it)
    [ev] = decode(raw)
    assert isinstance(ev, TrainingDataArrived)
    raw[0]["data"]["api"] = "SftpCreate"
    assert decode(raw) == []


def test_a_log_search_alert_names_its_service_in_its_context_properties() -> None:
    """A scheduled query rule puts the rule's custom properties in alertContext.properties, not
    customProperties: it was refused as naming no service."""
    raw = sample("monitor-common-alert-no-service.json")
    raw["data"]["essentials"]["signalType"] = "Log"
    raw["data"]["alertContext"] = {"properties": {"skyloop-service": "checkout"}, "conditionType": "LogQueryCriteria"}
    raw["data"].pop("customProperties", None)
    [alarm] = decode(raw)
    assert isinstance(alarm, MetricAlarm) and alarm.service == "checkout"


def test_an_azure_ml_batch_runs_end_is_its_completion() -> None:
    """RunStatusChanged of a run Skyloop tagged, in an ended state: its key and state; a run on its way,
    or another team's run, is nothing."""
    import json
    from pathlib import Path

    from skyloop.clouds.azure.events import to_domain

    raw = json.loads((Path(__file__).resolve().parents[2] / "events/azure/eventgrid-ml-batch-run-completed.json").read_text())
    [done] = to_domain(raw, container="datasets")
    assert (done.backend, done.key, done.status) == ("azureml", "6c0f2d1e9b8a7f6e5d4c3b2a1908f7e6d5c4b3a2", "succeeded")
    raw[0]["data"]["runStatus"] = "Failed"
    [failed] = to_domain(raw, container="datasets")
    assert failed.status == "failed" and "ended Failed" in failed.reason
    raw[0]["data"]["runStatus"] = "Running"
    assert to_domain(raw, container="datasets") == []
    raw[0]["data"].update(runStatus="Completed", runTags={"team": "other"})
    assert to_domain(raw, container="datasets") == []
