"""The Azure Functions app (functions/azure/function_app.py, Python v2 model): each decorated
function called through ``app.get_functions()[...].get_user_function()`` with what the Functions
host would hand it (an Event Grid event decoded by azure-functions' own converter, a
``func.QueueMessage``, a ``func.HttpRequest``), on Azurite, with Azure ML, Event Grid publishing,
Azure Monitor and Container Apps faked at their clients (conftest.AzureEnv). The durable client is
a fake with the SDK's two calls; the orchestration is driven as the Durable Task framework drives
it, a yield at a time, its activities run by the real activity function. Every sample in
events/azure/ goes through its function, and the whole loop runs."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.functions")
pytest.importorskip("azure.durable_functions")

import azure.functions as func  # noqa: E402

from skyloop.ports.registry import Status  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "azure"
GROUP = "churn-2026"


def _app(env: Any) -> Any:
    """function_app.py as the host loads it, on this test's adapters."""
    spec = importlib.util.spec_from_file_location("function_app", ROOT / "functions/azure/function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    spec.loader.exec_module(module)
    module.use(env.adapters, env.azure)
    # get_functions() builds the app's index once (a second call finds every name taken)
    module.functions = module.app.get_functions()
    module.user_functions = {f.get_function_name(): f.get_user_function() for f in module.functions}
    return module


def _fn(module: Any, name: str) -> Any:
    return module.user_functions[name]


def _grid(doc: dict[str, Any]) -> Any:
    """One Event Grid event as the host's converter hands it to the function (either schema)."""
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    return EventGridEventInConverter.decode(meta.Datum(json.dumps(doc), "json"), trigger_metadata={})


def _http(body: Any, route: dict[str, str] | None = None) -> func.HttpRequest:
    return func.HttpRequest("POST", "https://skyloop.azurewebsites.net/api/x", body=json.dumps(body).encode(),
                            route_params=route or {}, headers={"Content-Type": "application/json"})


def _queue(body: str, dequeue_count: int = 1) -> Any:
    from azure.functions.queue import QueueMessage

    return QueueMessage(id="m-1", body=body.encode(), dequeue_count=dequeue_count, pop_receipt="r")


BINDING = json.dumps({"taskHubName": "SkyloopRollouts", "rpcBaseUrl": "http://127.0.0.1:17071/durabletask/",
                      "creationUrls": {"createNewInstancePostUri": "http://127.0.0.1:7071/runtime/webhooks/durabletask/orchestrators/{functionName}[/{instanceId}]"},
                      "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/INSTANCEID"}})


@pytest.fixture
def durable(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The durable client's two calls to the Functions host's durable extension (no emulator of it
    here): get_status and start_new on the SDK's own DurableOrchestrationClient, which the
    decorator builds from the host's binding JSON. Returns the started instances."""
    from azure.durable_functions import DurableOrchestrationClient

    started: dict[str, Any] = {}

    async def get_status(self: Any, instance_id: str, *a: Any, **k: Any) -> Any:
        class Status:
            runtime_status = "Running" if instance_id in started else None

        return Status()

    async def start_new(self: Any, orchestration_function_name: str, instance_id: str | None = None,
                        client_input: Any = None) -> str:
        assert orchestration_function_name == "rollout" and instance_id not in started
        started[str(instance_id)] = client_input
        return str(instance_id)

    monkeypatch.setattr(DurableOrchestrationClient, "get_status", get_status)
    monkeypatch.setattr(DurableOrchestrationClient, "start_new", start_new)
    return started


def _deploy(module: Any, event: Any) -> None:
    asyncio.run(_fn(module, "deploy")(event=event, client=BINDING))


def _invoke(module: Any, req: Any) -> Any:
    return asyncio.run(_fn(module, "invoke")(req=req, client=BINDING))


class Context:
    """What the orchestration sees of ``DurableOrchestrationContext``: its input, activities with
    retry, timers and the replay-safe clock."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.input, self.timers, self.activities = state, [], []
        self.current_utc_datetime = datetime(2026, 11, 26, tzinfo=timezone.utc)

    def get_input(self) -> Any:
        return self.input

    def call_activity_with_retry(self, name: str, retry: Any, payload: Any) -> tuple[str, Any, Any]:
        return ("activity", name, (retry, payload))

    def create_timer(self, fire_at: datetime) -> tuple[str, datetime]:
        return ("timer", fire_at)


def _orchestrate(module: Any, client_input: Any, between: Any) -> dict[str, Any]:
    """Drive the rollout orchestration to its end: each activity runs the real rollout_step
    (retried as its RetryOptions say when it raises), each timer lets minutes pass."""
    from skyloop.clouds.azure.durable import orchestration

    # the app's "rollout" is this generator under the SDK's replay wrapper, which takes the host's
    # history JSON; the test drives the generator itself, a task at a time, as the replay does
    bindings = {f.get_function_name(): f.get_bindings_dict()["bindings"][0]["type"] for f in module.functions}
    assert (bindings["rollout"], bindings["rollout_step"]) == ("orchestrationTrigger", "activityTrigger")
    step = _fn(module, "rollout_step")
    ctx = Context(client_input)
    gen = orchestration(ctx)
    task = next(gen)
    while True:
        try:
            if task[0] == "timer":
                ctx.timers.append(task[1])
                between()
                task = gen.send(None)
                continue
            _, name, (retry, payload) = task
            assert name == "rollout_step"
            ctx.activities.append(payload["step"])
            error: Exception | None = None
            for _ in range(retry.max_number_of_attempts):
                between()
                try:
                    result = step(payload)
                    error = None
                    break
                except Exception as exc:  # noqa: BLE001 - retried, then thrown into the orchestration
                    error = exc
            task = gen.throw(error) if error is not None else gen.send(result)
        except StopIteration as done:
            return dict(done.value)


SAMPLES = {
    "eventgrid-blob-created.json": "train", "cloudevents-blob-created.json": "train", "eventgrid-sidecar-created.json": "train",
    "eventgrid-ai-upload-created.json": "train", "eventgrid-model-registered-approved.json": "deploy",
    "eventgrid-model-registered-pending.json": "deploy", "monitor-common-alert-fired.json": "detect",
    "monitor-common-alert-resolved.json": "detect", "monitor-common-alert-no-service.json": "detect",
    "queue-remediation-requested.json": "remediate", "eventgrid-batch-upload-created.json": "train",
    "eventgrid-ml-batch-run-completed.json": "train",  # a batch job of no record here: acknowledged
}


def test_every_sample_has_its_function() -> None:
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(SAMPLES)


def _sample(name: str, env: Any) -> Any:
    return json.loads((EVENTS / name).read_text().replace("/containers/datasets/", f"/containers/{env.azure.container}/")
                      .replace("skyloopdata.blob.core.windows.net/datasets/",
                               f"127.0.0.1:{_blob_port(env)}/devstoreaccount1/{env.azure.container}/"))


def _blob_port(env: Any) -> str:
    return env.azure.connection_string.split("BlobEndpoint=http://127.0.0.1:")[1].split("/")[0]


def test_each_sample_through_its_function(azure_env: Any, durable: dict[str, Any]) -> None:
    env = azure_env
    module = _app(env)
    env.adapters.store.put("churn 2026.csv", (ROOT / "events/local/data/churn.csv").read_bytes())
    env.adapters.store.put("ai/incident-note.txt", b"The checkout service failed again overnight and customers are angry.")
    for name, function in SAMPLES.items():
        doc = _sample(name, env)
        if function in ("train", "deploy"):
            for one in doc if isinstance(doc, list) else [doc]:
                _deploy(module, _grid(one)) if function == "deploy" else _fn(module, "train")(_grid(one))
        elif function == "detect":
            answer = _fn(module, "detect")(_http(doc))
            assert answer.status_code == 200, answer.get_body()
        else:
            _fn(module, "remediate")(_queue(json.dumps(doc)))
    parked = {(d["function"], d["error"]) for d in env.dead_letters()}
    # the AI upload: analysed by Azure's AI services (AI Language at its client), the result beside it
    result = json.loads(env.adapters.store.get("ai/incident-note.txt.skyloop-ai.json"))
    assert (result["provider"], result["kind"], result["result"]["key_phrases"]) == ("azure", "text", ["the team"])
    # only the batch sample is refused by train: its rows are not in the container (no object to score)
    assert [d for d in parked if d[0] == "train"] == [("train", "not_found")]
    assert json.loads(env.adapters.store.get("predictions/churn-2026/week-48.manifest.json"))["status"] == "failed"
    assert ("detect", "invalid_event") in parked  # the alert that names no service: never guessed
    assert [v.status for v in env.adapters.registry.versions(GROUP)] == [Status.PENDING]  # both schemas: one version
    # the approved sample names churn v20, which this registry lacks: refused with the reason, nothing started
    assert ("deploy", "not_found") in parked and durable == {}


def test_a_direct_invocation_and_a_transient_failure(azure_env: Any, monkeypatch: pytest.MonkeyPatch,
                                                    durable: dict[str, Any]) -> None:
    from skyloop.errors import TransientError

    env = azure_env
    module = _app(env)
    request = {"type": "RemediationRequested", "request_id": "direct-1", "target": "api", "action": "scale_out", "reason": "op"}
    answer = _invoke(module, _http(request, {"function": "remediate"}))
    assert answer.status_code == 200 and json.loads(answer.get_body())["status"] == "ok"
    assert env.apps.app.template.scale.min_replicas == 3
    assert _invoke(module, _http(request, {"function": "nope"})).status_code == 404

    def throttled(*a: Any, **k: Any) -> Any:
        raise TransientError("Container Apps API throttled")

    monkeypatch.setattr(env.adapters.executor, "describe", throttled)
    again = {**request, "request_id": "direct-2", "action": "restart_service"}
    with pytest.raises(TransientError):  # the queue trigger retries, then the host's poison queue
        _fn(module, "remediate")(_queue(json.dumps(again), dequeue_count=1))
    assert _invoke(module, _http(again, {"function": "remediate"})).status_code == 503
    assert env.dead_letters() == []


def test_the_whole_loop_on_azure(azure_env: Any, durable: dict[str, Any]) -> None:
    """upload -> PENDING -> approve -> staged and promoted (Azure ML faked at its edge, the rollout
    as a durable orchestration) -> alert -> RCA -> remediation -> audit."""
    from azure.storage.blob import BlobClient

    from skyloop.ports.registry import approve

    env = azure_env
    module = _app(env)
    uri = env.adapters.store.put(f"datasets/{GROUP}.csv", (ROOT / "events/local/data/churn.csv").read_bytes())
    props = BlobClient.from_blob_url(uri, credential=_key(env)).get_blob_properties()
    created = {"topic": "/subscriptions/s/resourceGroups/skyloop/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
               "subject": f"/blobServices/default/containers/{env.azure.container}/blobs/datasets/{GROUP}.csv",
               "eventType": "Microsoft.Storage.BlobCreated", "eventTime": datetime.now(timezone.utc).isoformat(),
               "id": "loop-upload", "dataVersion": "", "metadataVersion": "1",
               "data": {"api": "PutBlob", "eTag": props.etag, "contentType": "text/csv", "contentLength": props.size,
                        "blobType": "BlockBlob", "url": uri}}
    _fn(module, "train")(_grid(created))
    _fn(module, "train")(_grid(created))  # Event Grid delivers at least once
    [v1] = env.adapters.registry.versions(GROUP)
    assert v1.status is Status.PENDING

    approve(env.adapters.registry, env.adapters.events, GROUP, 1, actor="reviewer@example.com")
    for sent in env.eventgrid.sent:  # Event Grid delivers the custom topic's events to deploy
        doc = {"id": sent.id, "topic": "/subscriptions/s/resourceGroups/skyloop/providers/Microsoft.EventGrid/topics/skyloop-events",
               "subject": sent.subject, "eventType": sent.event_type, "eventTime": datetime.now(timezone.utc).isoformat(),
               "data": sent.data, "dataVersion": sent.data_version, "metadataVersion": "1"}
        _deploy(module, _grid(doc))
        _deploy(module, _grid(doc))  # redelivered: one orchestration
    [(instance, client_input)] = durable.items()

    final = _orchestrate(module, client_input, env.ml.finish_all)
    assert final["status"] == "promoted", final
    assert env.adapters.registry.alias(GROUP, "production").version == 1
    env.ml.finish_all()
    assert env.adapters.deployer.slots(GROUP) == {"production": 1}
    assert env.adapters.deployer.traffic(GROUP) == {"production": 1.0}

    alert = json.loads((EVENTS / "monitor-common-alert-fired.json").read_text())
    answer = _fn(module, "detect")(_http(alert))
    assert answer.status_code == 200, answer.get_body()
    q = env.queue(env.azure.remediation_queue)
    messages = list(q.receive_messages(max_messages=32))
    assert messages, "detect queued no remediation"
    for m in messages:
        host_view = _queue(m.content)  # the host hands the decoded body (base64 on the wire)
        _fn(module, "remediate")(host_view)
        _fn(module, "remediate")(host_view)  # redelivered: one effect
        assert base64.b64decode(base64.b64encode(m.content.encode())).decode() == m.content
    executed = [e for e in env.adapters.audit.entries() if e["kind"] == "executed"]
    assert len(executed) == len({json.loads(m.content)["request_id"] for m in messages})
    ok, why = env.adapters.audit.verify()
    assert ok, why
    assert env.apps.app.template.scale.min_replicas > 1 or env.apps.restarts
    assert env.dead_letters() == []


def _key(env: Any) -> str:
    return env.azure.connection_string.split("AccountKey=")[1].split(";")[0]


def test_the_orchestration_aborts_where_a_step_may_abort_and_fails_elsewhere() -> None:
    from skyloop.clouds.azure.durable import RolloutFailed, orchestration

    def run(answers: dict[str, Any], start: str = "begin") -> tuple[Any, list[str]]:
        ctx = Context({"state": {"group": "g", "version": 1, "next": start, "wait": 0}})
        gen = orchestration(ctx)
        seen = []
        task = next(gen)
        while True:
            try:
                if task[0] == "timer":
                    task = gen.send(None)
                    continue
                step = task[2][1]["step"]
                seen.append(step)
                a = answers[step]
                task = gen.throw(a) if isinstance(a, Exception) else gen.send({**task[2][1]["state"], **a})
            except StopIteration as done:
                return done.value, seen

    final, seen = run({"begin": {"next": "staging"}, "staging": RuntimeError("retries exhausted: quota"),
                       "abort": {"next": "done", "status": "rolled_back"}})
    assert final["status"] == "rolled_back" and seen == ["begin", "staging", "abort"]
    assert final["caught"]["Cause"] == "retries exhausted: quota"
    with pytest.raises(RolloutFailed, match="deployment_failed"):
        run({"begin": {"failed": "deployment_failed", "reason": "v1 is REJECTED"}})
    with pytest.raises(RuntimeError):  # begin may not abort: its failure fails the orchestration
        run({"begin": RuntimeError("boom")})


