"""The official Python client with ``transport="rest"`` against the engine's shared port.

These repeat the main gRPC cases over REST: the same servicer answers both, so a resource made
over one transport is seen over the other, and errors carry the same codes.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2, timestamp_pb2

from tests.conftest import EngineProcess


def make_rest_client(address: str) -> Any:
    """The client exactly as a REST user builds it against an emulator."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return tasks_v2.CloudTasksClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=f"http://{address}"),
    )


@pytest.fixture(scope="module")
def rest(engine: EngineProcess) -> Any:
    return make_rest_client(engine.address)


def http_task(url: str = "http://127.0.0.1:9/handler", body: bytes = b"") -> dict[str, Any]:
    request: dict[str, Any] = {"url": url}
    if body:
        request["body"] = body
    return {"http_request": request}


@pytest.fixture
def rest_queue(rest: Any, location_path: str, unique: str) -> str:
    """A fresh paused queue (so nothing is dispatched while a test looks at its tasks)."""
    name = f"{location_path}/queues/rest-{unique}"
    rest.create_queue(parent=location_path, queue={"name": name})
    rest.pause_queue(name=name)
    return name


def test_queue_crud_with_update_masks(rest: Any, location_path: str, unique: str) -> None:
    name = f"{location_path}/queues/crud-{unique}"
    created = rest.create_queue(
        parent=location_path,
        queue={"name": name, "retry_config": {"max_attempts": 7, "min_backoff": {"seconds": 2}}},
    )
    assert created.name == name
    assert created.retry_config.max_attempts == 7
    assert created.retry_config.min_backoff.seconds == 2
    assert created.rate_limits.max_dispatches_per_second == 500
    assert created.state == tasks_v2.Queue.State.RUNNING

    updated = rest.update_queue(
        queue={
            "name": name,
            "rate_limits": {"max_dispatches_per_second": 10, "max_concurrent_dispatches": 7},
        },
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"]),
    )
    assert updated.rate_limits.max_dispatches_per_second == 10
    assert updated.rate_limits.max_concurrent_dispatches == 1000  # not in the mask
    assert updated.retry_config.max_attempts == 7
    assert rest.get_queue(name=name) == updated

    assert rest.pause_queue(name=name).state == tasks_v2.Queue.State.PAUSED
    assert rest.resume_queue(name=name).state == tasks_v2.Queue.State.RUNNING
    purged = rest.purge_queue(name=name)
    assert purged.purge_time.timestamp() > 0
    listed = [q.name for q in rest.list_queues(parent=location_path)]
    assert name in listed
    paused_only = rest.list_queues(request={"parent": location_path, "filter": "state: PAUSED"})
    assert name not in [q.name for q in paused_only]

    rest.delete_queue(name=name)
    with pytest.raises(gexc.NotFound):
        rest.get_queue(name=name)


def test_list_queues_pages(rest: Any, unique: str) -> None:
    parent = f"projects/pages-{unique}/locations/us-central1"
    names = [f"{parent}/queues/p{i}" for i in range(5)]
    for name in names:
        rest.create_queue(parent=parent, queue={"name": name})
    pager = rest.list_queues(request={"parent": parent, "page_size": 2})
    pages = [[q.name for q in page.queues] for page in pager.pages]
    assert pages == [names[0:2], names[2:4], names[4:5]]


def test_task_create_get_list_run_delete(rest: Any, rest_queue: str) -> None:
    later = int(time.time()) + 86_400
    schedule = timestamp_pb2.Timestamp(seconds=later)
    created = rest.create_task(
        parent=rest_queue,
        task={
            **http_task(body=b"\x00\xffbinary"),
            "schedule_time": schedule,
            "dispatch_deadline": {"seconds": 30},
        },
    )
    assert created.name.startswith(f"{rest_queue}/tasks/")
    assert created.view == tasks_v2.Task.View.BASIC
    assert created.http_request.body == b""  # BASIC hides the body
    assert created.dispatch_deadline.seconds == 30

    full = rest.get_task(request={"name": created.name, "response_view": "FULL"})
    assert full.http_request.body == b"\x00\xffbinary"  # bytes survive base64 both ways
    assert full.http_request.http_method == tasks_v2.HttpMethod.POST
    assert full.schedule_time.timestamp() == later

    named = rest.create_task(parent=rest_queue, task={"name": f"{rest_queue}/tasks/named-1",
                                                      **http_task()})  # fmt: skip
    listed = list(rest.list_tasks(parent=rest_queue))
    assert [t.name for t in listed] == [named.name, created.name]  # schedule order
    pages = list(rest.list_tasks(request={"parent": rest_queue, "page_size": 1}).pages)
    assert [len(p.tasks) for p in pages] == [1, 1]

    ran = rest.run_task(request={"name": named.name, "response_view": tasks_v2.Task.View.FULL})
    assert ran.name == named.name and ran.view == tasks_v2.Task.View.FULL

    rest.delete_task(name=created.name)
    with pytest.raises(gexc.NotFound):
        rest.get_task(name=created.name)
    with pytest.raises(gexc.NotFound):
        rest.delete_task(name=created.name)


def test_dedup_refusal_is_409_already_exists(rest: Any, rest_queue: str) -> None:
    name = f"{rest_queue}/tasks/once"
    rest.create_task(parent=rest_queue, task={"name": name, **http_task()})
    with pytest.raises(gexc.Conflict) as refused:
        rest.create_task(parent=rest_queue, task={"name": name, **http_task()})
    assert refused.value.code == 409
    assert "already exists" in refused.value.message.lower()


def test_not_found_and_invalid_argument(rest: Any, location_path: str, unique: str) -> None:
    with pytest.raises(gexc.NotFound):
        rest.get_queue(name=f"{location_path}/queues/missing-{unique}")
    with pytest.raises(gexc.NotFound):
        rest.create_task(parent=f"{location_path}/queues/missing-{unique}", task=http_task())
    with pytest.raises(gexc.BadRequest) as bad:
        rest.create_queue(
            parent=location_path,
            queue={"name": f"{location_path}/queues/bad-{unique}",
                   "rate_limits": {"max_dispatches_per_second": 501}},
        )  # fmt: skip
    assert "max_dispatches_per_second" in bad.value.message
    with pytest.raises(gexc.BadRequest):
        rest.create_queue(parent=location_path, queue={"name": f"{location_path}/queues/a_b"})


def test_batch_create_and_delete_with_operations(rest: Any, rest_queue: str) -> None:
    taken = f"{rest_queue}/tasks/taken"
    rest.create_task(parent=rest_queue, task={"name": taken, **http_task()})
    operation = rest.batch_create_tasks(
        parent=rest_queue,
        requests=[
            {"parent": rest_queue, "task": http_task()},
            {"parent": rest_queue, "task": {"name": taken, **http_task()}},
            {"parent": rest_queue, "task": {"name": f"{rest_queue}/tasks/fresh", **http_task()}},
        ],
    )
    assert operation.done()
    result = operation.result()
    assert [t.name for t in result.tasks][1] == f"{rest_queue}/tasks/fresh"
    metadata = operation.metadata
    assert metadata.state == tasks_v2.BatchCreateTasksMetadata.State.PARTIALLY_SUCCEEDED
    assert list(metadata.failed_requests) == [1]
    assert metadata.failed_requests[1].code == 6  # ALREADY_EXISTS

    fetched = rest.get_operation(request={"name": operation.operation.name})
    assert fetched.done and fetched.name == operation.operation.name

    names = [t.name for t in result.tasks]
    deleted = rest.batch_delete_tasks(parent=rest_queue, names=[*names, f"{rest_queue}/tasks/x"])
    deleted.result()
    assert list(deleted.metadata.failed_requests) == [2]
    assert [t.name for t in rest.list_tasks(parent=rest_queue)] == [taken]
    with pytest.raises(gexc.NotFound):
        rest.get_operation(request={"name": f"{rest_queue.rsplit('/queues', 1)[0]}/operations/1"})


def test_one_servicer_behind_both_transports(rest: Any, client: Any, location_path: str,
                                            unique: str) -> None:  # fmt: skip
    over_grpc = f"{location_path}/queues/grpc-{unique}"
    client.create_queue(parent=location_path, queue={"name": over_grpc})
    assert rest.get_queue(name=over_grpc) == client.get_queue(name=over_grpc)
    over_rest = rest.create_task(parent=over_grpc, task={"name": f"{over_grpc}/tasks/t",
                                                         **http_task(body=b"b")})  # fmt: skip
    seen = client.get_task(request={"name": over_rest.name, "response_view": "FULL"})
    assert seen.http_request.body == b"b"
    rest.pause_queue(name=over_grpc)
    assert client.get_queue(name=over_grpc).state == tasks_v2.Queue.State.PAUSED
    with pytest.raises(gexc.AlreadyExists):  # the name REST used is taken for gRPC too
        client.create_task(parent=over_grpc, task={"name": over_rest.name, **http_task()})


def test_iam_cmek_and_locations(rest: Any, rest_queue: str, unique: str) -> None:
    policy = rest.get_iam_policy(resource=rest_queue)
    assert policy.etag
    updated = rest.set_iam_policy(
        request={"resource": rest_queue, "policy": {
            "bindings": [{"role": "roles/cloudtasks.viewer", "members": ["user:a@example.com"]}],
        }},
    )  # fmt: skip
    assert [b.role for b in updated.bindings] == ["roles/cloudtasks.viewer"]
    assert rest.get_iam_policy(resource=rest_queue) == updated
    allowed = rest.test_iam_permissions(
        resource=rest_queue, permissions=["cloudtasks.tasks.create", "other.thing"]
    )
    assert list(allowed.permissions) == ["cloudtasks.tasks.create"]

    config_name = f"projects/cmek-{unique}/locations/us-central1/cmekConfig"
    assert rest.get_cmek_config(name=config_name).name == config_name
    key = f"projects/k/locations/us-central1/keyRings/r/cryptoKeys/key-{unique}"
    stored = rest.update_cmek_config(
        cmek_config={"name": config_name, "kms_key": key},
        update_mask=field_mask_pb2.FieldMask(paths=["kms_key"]),
    )
    assert stored.kms_key == key
    assert rest.get_cmek_config(name=config_name).kms_key == key

    location = rest.get_location(request={"name": "projects/p/locations/us-central1"})
    assert location.location_id == "us-central1"
    listed = rest.list_locations(request={"name": "projects/p"})
    assert "europe-west1" in [loc.location_id for loc in listed.locations]
