"""Long-running operations for BatchCreateTasks / BatchDeleteTasks.

Batches run to completion inside one group transaction, so every operation is already
``done`` when the RPC answers; it is stored so ``Operations/GetOperation`` can answer later.
"""

from __future__ import annotations

from typing import Any

from google.cloud import tasks_v2
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2

from tasksctl.engine.records import generate_task_id

BatchCreateMetadata: Any = tasks_v2.BatchCreateTasksMetadata.pb()
BatchDeleteMetadata: Any = tasks_v2.BatchDeleteTasksMetadata.pb()

# Both State enums number SUCCEEDED 2; PARTIALLY_SUCCEEDED is 5 for create and 3 for delete.
SUCCEEDED = 2
CREATE_PARTIALLY_SUCCEEDED = 5
DELETE_PARTIALLY_SUCCEEDED = 3


def operation_name(location: str) -> str:
    """``projects/P/locations/L/operations/ID`` with a random numeric ID."""
    return f"{location}/operations/{generate_task_id()}"


def status_of(code_name: str, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=code_pb2.Code.Value(code_name), message=message)


def timestamp(us: int) -> timestamp_pb2.Timestamp:
    seconds, micros = divmod(us, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=micros * 1000)


def finished_operation(
    name: str,
    metadata: Any,
    response: Message,
    failed: dict[int, status_pb2.Status],
    total: int,
    metadata_name: str,
    partial_state: int,
) -> operations_pb2.Operation:
    """A done Operation; ``error`` is ABORTED when every request in the batch failed."""
    metadata.state = SUCCEEDED if not failed else partial_state
    for index, status in failed.items():
        metadata.failed_requests[index].CopyFrom(status)
    packed_metadata = any_pb2.Any()
    packed_metadata.Pack(metadata)
    operation = operations_pb2.Operation(name=name, done=True, metadata=packed_metadata)
    if total and len(failed) == total:
        operation.error.CopyFrom(
            status_of(
                "ABORTED",
                "None of the requests succeeded, refer to "
                f"{metadata_name}.failed_requests for individual error details",
            )
        )
    else:
        operation.response.Pack(response)
    return operation
