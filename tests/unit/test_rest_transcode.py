"""REST transcoding without a server: the rules from the client library, path matching,
request building from body/path/query, and Google's error wording."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.cloud import tasks_v2
from google.protobuf import json_format

from tasksctl.engine.rest.app import RestGateway, Route, build_routes
from tasksctl.engine.rest.errors import HTTP_STATUS, RestAbort
from tasksctl.engine.rest.rules import client_rules, compile_rule, split_verb
from tasksctl.engine.rest.transcode import build_request, response_json

QUEUE = "projects/p/locations/us-central1/queues/q"


def rule(name: str) -> Any:
    return next(r for r in client_rules() if r.method_name == name)


def test_every_rest_transport_method_has_a_rule() -> None:
    """The rules are whatever the client's REST transport calls, nothing typed by hand."""
    from google.cloud.tasks_v2.services.cloud_tasks.transports.rest import (
        CloudTasksRestTransport,
    )

    names = {r.method_name for r in client_rules()}
    called = {
        name[1:]
        for name in vars(CloudTasksRestTransport)
        if name.startswith("_") and name[1:2].isupper()
    }
    assert len(called) >= 23
    assert called <= names
    assert {"CreateTask", "BatchCreateTasks", "PauseQueue", "GetIamPolicy", "GetCmekConfig",
            "ListLocations", "GetOperation"} <= names  # fmt: skip


def test_every_rule_is_served_by_a_grpc_handler() -> None:
    """build_routes binds each rule to the handler the gRPC server registers."""
    from tasksctl.engine.server import CloudTasksService

    service = CloudTasksService.__new__(CloudTasksService)  # no store needed to list handlers
    routes = build_routes(service.handlers())
    assert {r.rule.method_name for r in routes} == {r.method_name for r in client_rules()}
    create = next(r for r in routes if r.rule.method_name == "CreateTask")
    assert create.request_cls is tasks_v2.CreateTaskRequest.pb()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2/a/b:pause", ("/v2/a/b", "pause")),
        ("/v2/a/b", ("/v2/a/b", "")),
        ("/v2/projects/example.com:p/locations", ("/v2/projects/example.com:p/locations", "")),
        (
            "/v2/projects/example.com:p/locations/l/queues/q:run",
            ("/v2/projects/example.com:p/locations/l/queues/q", "run"),
        ),
    ],
)
def test_split_verb_looks_at_the_last_segment_only(path: str, expected: Any) -> None:
    assert split_verb(path) == expected


def test_matching_binds_decoded_variables_and_respects_verbs() -> None:
    get_queue, pause = rule("GetQueue"), rule("PauseQueue")
    assert get_queue.match(f"/v2/{QUEUE}", "") == {"name": QUEUE}
    assert get_queue.match("/v2/projects/p%2Dx/locations/l/queues/q", "") == {
        "name": "projects/p-x/locations/l/queues/q"}  # fmt: skip
    assert get_queue.match(f"/v2/{QUEUE}/tasks", "") is None
    assert get_queue.match(f"/v2/{QUEUE}", "pause") is None
    assert pause.match(f"/v2/{QUEUE}", "pause") == {"name": QUEUE}
    multi = compile_rule("GetOperation", {"method": "get", "uri": "/v2/{name=**/operations/*}"})
    assert multi.match("/v2/projects/p/locations/l/operations/7", "") == {
        "name": "projects/p/locations/l/operations/7"}  # fmt: skip


def test_query_parameters_bind_typed_fields() -> None:
    request: Any = build_request(
        rule("ListTasks"), tasks_v2.ListTasksRequest.pb(), {"parent": QUEUE},
        [("pageSize", "7"), ("pageToken", "abc"), ("responseView", "FULL"), ("alt", "json"),
         ("$.xgafv", "2"), ("prettyPrint", "false")], b"",
    )  # fmt: skip
    assert (request.parent, request.page_size, request.page_token) == (QUEUE, 7, "abc")
    assert request.response_view == tasks_v2.Task.View.FULL
    by_number: Any = build_request(
        rule("GetTask"),
        tasks_v2.GetTaskRequest.pb(),
        {"name": f"{QUEUE}/tasks/t"},
        [("response_view", "2")],
        b"",
    )
    assert by_number.response_view == 2


def test_update_mask_from_the_query_and_the_body_field() -> None:
    request: Any = build_request(
        rule("UpdateQueue"), tasks_v2.UpdateQueueRequest.pb(), {"queue.name": QUEUE},
        [("updateMask", "rateLimits.maxDispatchesPerSecond,retryConfig.maxAttempts")],
        b'{"rateLimits": {"maxDispatchesPerSecond": 3}, "name": "ignored"}',
    )  # fmt: skip
    assert request.queue.name == QUEUE  # the path wins over the body
    assert request.queue.rate_limits.max_dispatches_per_second == 3
    assert list(request.update_mask.paths) == [
        "rate_limits.max_dispatches_per_second", "retry_config.max_attempts"]  # fmt: skip


def abort_of(*args: Any) -> RestAbort:
    with pytest.raises(RestAbort) as caught:
        build_request(*args)
    return caught.value


def test_errors_use_googles_wording() -> None:
    create = (rule("CreateTask"), tasks_v2.CreateTaskRequest.pb(), {"parent": QUEUE})
    unknown = abort_of(*create, [], b'{"task": {"httpRequest": {"nope": 1}}}')
    assert unknown.message == (
        "Invalid JSON payload received. Unknown name \"nope\" at 'task.http_request': "
        "Cannot find field."
    )
    assert abort_of(*create, [], b'{"nope": 1}').message.endswith(
        'Unknown name "nope": Cannot find field.')  # fmt: skip
    assert "Invalid JSON payload received" in abort_of(*create, [], b"{").message
    # body "*" leaves no field for query parameters
    assert (
        "Cannot bind query parameter"
        in abort_of(*create, [("responseView", "FULL")], b"{}").message
    )
    list_tasks = (rule("ListTasks"), tasks_v2.ListTasksRequest.pb(), {"parent": QUEUE})
    assert abort_of(*list_tasks, [("pageSize", "x")], b"").message == (
        "Invalid value at 'page_size' (TYPE_INT32), \"x\"")  # fmt: skip
    assert abort_of(*list_tasks, [("pageSize", "1"), ("pageSize", "2")], b"").status == (
        "INVALID_ARGUMENT")  # fmt: skip
    assert abort_of(*list_tasks, [("responseView", "NOPE")], b"").status == "INVALID_ARGUMENT"


def test_responses_are_proto3_json() -> None:
    task: Any = tasks_v2.Task.pb()(name="n", dispatch_count=2)
    task.http_request.body = b"\x00\xff"
    task.dispatch_deadline.seconds = 30
    task.view = tasks_v2.Task.View.FULL
    text = response_json(task, integer_enums=False, pretty=False)
    assert text == (b'{"name":"n","httpRequest":{"body":"AP8="},"dispatchDeadline":"30s",'
                    b'"dispatchCount":2,"view":"FULL"}')  # fmt: skip
    assert b'"view":2' in response_json(task, integer_enums=True, pretty=False)
    assert json_format.Parse(text, tasks_v2.Task.pb()()) == task


def test_every_grpc_code_has_googles_http_status() -> None:
    assert {code.name for code in grpc.StatusCode} == set(HTTP_STATUS)
    codes = ("NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION", "UNAVAILABLE")
    assert [HTTP_STATUS[code] for code in codes] == [404, 409, 400, 503]
    assert RestAbort("NOT_FOUND", "gone").body() == (
        b'{\n  "error": {\n    "code": 404,\n    "message": "gone",\n    "status": "NOT_FOUND"\n'
        b"  }\n}\n"
    )


def test_gateway_routes_the_emulator_form_and_refuses_unknown_paths() -> None:
    async def call(request: Any, context: Any) -> Any:
        return request

    create = Route(rule("CreateTask"), tasks_v2.CreateTaskRequest.pb(), call)
    gateway = RestGateway([create])
    route, values, emulator = gateway.match("POST", f"/{QUEUE}/tasks")
    assert (route, values, emulator) == (create, {"parent": QUEUE}, True)
    assert gateway.match("POST", f"/v2/{QUEUE}/tasks")[2] is False
    with pytest.raises(RestAbort) as missing:
        gateway.match("GET", f"/v2/{QUEUE}/tasks")
    assert missing.value.http_status == 404
