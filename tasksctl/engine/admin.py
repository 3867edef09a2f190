"""The servicer's administrative RPCs: IAM policies, CMEK config, operations, locations.

IAM policies are stored per queue with an etag (a stale etag → ABORTED) but never enforced.
CMEK configs are stored per location. Operations are the finished LROs of the batch RPCs.
"""

from __future__ import annotations

import os
import re
import sqlite3
from typing import Any

from google.cloud import tasks_v2
from google.cloud.location import locations_pb2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from tasksctl.engine import locations, records
from tasksctl.engine.rpc import decode_token, encode_token, rpc
from tasksctl.engine.storage import Storage
from tasksctl.engine.validation import invalid, normalize_mask_paths, page_size
from tasksctl.errors import ApiError, NotFound
from tasksctl.resources import QueueName, parse_location_name

CmekConfigPb: Any = tasks_v2.CmekConfig.pb()

# The etag Google returns for a resource that has never had a policy set ("ACAB").
EMPTY_POLICY_ETAG = b"\x00\x20\x01"
POLICY_FIELDS = ("version", "bindings", "audit_configs", "etag")
DEFAULT_POLICY_MASK = ("bindings", "etag", "version", "audit_configs")
STALE_ETAG = (
    "There were concurrent policy changes. Please retry the whole read-modify-write with "
    "exponential backoff."
)
_CMEK_NAME_RE = re.compile(r"^projects/([^/]+)/locations/([^/]+)/cmekConfig$", re.IGNORECASE)
_KMS_KEY_RE = re.compile(r"^projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$")

OPERATIONS_SERVICE = "google.longrunning.Operations"
LOCATIONS_SERVICE = "google.cloud.location.Locations"


class AdminRpcs:
    """Mixin for ``server.CloudTasksService`` (which provides ``store`` and ``_queue``)."""

    store: Storage

    def _queue(self, text: str, field: str) -> tuple[QueueName, str]:  # pragma: no cover
        raise NotImplementedError

    # -- IAM --------------------------------------------------------------------------------

    def _policy_resource(self, resource: str, conn: sqlite3.Connection) -> str:
        _, name = self._queue(resource, "resource")
        if not records.queue_exists(conn, name):
            raise NotFound(records.NOT_FOUND)
        return name

    @rpc
    async def GetIamPolicy(self, request: Any, context: Any) -> Any:
        def read(conn: sqlite3.Connection) -> policy_pb2.Policy:
            name = self._policy_resource(request.resource, conn)
            blob = records.find_blob(conn, records.SELECT_POLICY, name)
            return policy_pb2.Policy.FromString(blob) if blob else _empty_policy()

        return self.store.read(read)

    @rpc
    async def SetIamPolicy(self, request: Any, context: Any) -> Any:
        paths = normalize_mask_paths(list(request.update_mask.paths)) or list(DEFAULT_POLICY_MASK)
        if unknown := [p for p in paths if p not in POLICY_FIELDS]:
            raise invalid("update_mask", f"unknown policy field(s): {', '.join(unknown)}")
        wanted = request.policy

        def write(conn: sqlite3.Connection) -> policy_pb2.Policy:
            name = self._policy_resource(request.resource, conn)
            blob = records.find_blob(conn, records.SELECT_POLICY, name)
            current = policy_pb2.Policy.FromString(blob) if blob else _empty_policy()
            if wanted.etag and wanted.etag != current.etag:
                raise ApiError("ABORTED", STALE_ETAG)
            for path in paths:
                if path != "etag":
                    current.ClearField(path)
                    if path == "version":
                        current.version = wanted.version
                    else:
                        getattr(current, path).extend(getattr(wanted, path))
            current.etag = b"\x00\x20" + os.urandom(6)
            records.put_blob(conn, records.UPSERT_POLICY, name, current.SerializeToString())
            return current

        return await self.store.write(write)

    @rpc
    async def TestIamPermissions(self, request: Any, context: Any) -> Any:
        self.store.read(lambda conn: self._policy_resource(request.resource, conn))
        granted = [p for p in request.permissions if p.startswith("cloudtasks.")]
        return iam_policy_pb2.TestIamPermissionsResponse(permissions=granted)

    # -- CMEK -------------------------------------------------------------------------------

    @rpc
    async def GetCmekConfig(self, request: Any, context: Any) -> Any:
        name = _cmek_name(request.name, "name")
        blob = self.store.read(lambda c: records.find_blob(c, records.SELECT_CMEK, name))
        return CmekConfigPb.FromString(blob) if blob else CmekConfigPb(name=name)

    @rpc
    async def UpdateCmekConfig(self, request: Any, context: Any) -> Any:
        config = request.cmek_config
        name = _cmek_name(config.name, "cmek_config.name")
        paths = normalize_mask_paths(list(request.update_mask.paths)) or ["kms_key"]
        if any(path != "kms_key" for path in paths):
            raise invalid("update_mask", "only kms_key can be updated")
        if config.kms_key:
            match = _KMS_KEY_RE.match(config.kms_key)
            if not match:
                raise invalid(
                    "cmek_config.kms_key",
                    "expected projects/P/locations/L/keyRings/R/cryptoKeys/K",
                )
            if match[1] != name.split("/")[3]:
                raise invalid("cmek_config.kms_key", "the key must be in the config's location")
        stored = CmekConfigPb(name=name, kms_key=config.kms_key)
        blob = stored.SerializeToString()
        await self.store.write(lambda c: records.put_blob(c, records.UPSERT_CMEK, name, blob))
        return stored

    # -- google.longrunning.Operations ------------------------------------------------------

    @rpc
    async def GetOperation(self, request: Any, context: Any) -> Any:
        blob = self.store.read(lambda c: records.find_operation(c, request.name))
        if blob is None:
            raise NotFound(records.NOT_FOUND)
        return operations_pb2.Operation.FromString(blob)

    @rpc
    async def WaitOperation(self, request: Any, context: Any) -> Any:
        # Every operation is done by the time its RPC answers: waiting is a get.
        return await self.GetOperation(
            operations_pb2.GetOperationRequest(name=request.name), context
        )

    @rpc
    async def ListOperations(self, request: Any, context: Any) -> Any:
        prefix = f"{parse_location_name(request.name, 'name')}/operations"
        size = page_size(request.page_size, 1000)
        after = decode_token(request.page_token) if request.page_token else ""
        rows = self.store.read(lambda c: records.list_operations(c, prefix, after, size + 1))
        response = operations_pb2.ListOperationsResponse(
            operations=[operations_pb2.Operation.FromString(blob) for _, blob in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = encode_token(rows[size - 1][0])
        return response

    @rpc
    async def DeleteOperation(self, request: Any, context: Any) -> Any:
        name = request.name
        if not await self.store.write(lambda c: records.delete_operation(c, name)):
            raise NotFound(records.NOT_FOUND)
        return empty_pb2.Empty()

    @rpc
    async def CancelOperation(self, request: Any, context: Any) -> Any:
        await self.GetOperation(operations_pb2.GetOperationRequest(name=request.name), context)
        return empty_pb2.Empty()  # already done: nothing to cancel

    # -- google.cloud.location.Locations ----------------------------------------------------

    @rpc
    async def ListLocations(self, request: Any, context: Any) -> Any:
        return locations.list_locations(request)

    @rpc
    async def GetLocation(self, request: Any, context: Any) -> Any:
        return locations.get_location(request)

    # -- registration tables ----------------------------------------------------------------

    def admin_tasks_methods(self) -> dict[str, tuple[Any, Any]]:
        return {
            "GetIamPolicy": (iam_policy_pb2.GetIamPolicyRequest, policy_pb2.Policy),
            "SetIamPolicy": (iam_policy_pb2.SetIamPolicyRequest, policy_pb2.Policy),
            "TestIamPermissions": (
                iam_policy_pb2.TestIamPermissionsRequest,
                iam_policy_pb2.TestIamPermissionsResponse,
            ),
            "GetCmekConfig": (tasks_v2.GetCmekConfigRequest.pb(), CmekConfigPb),
            "UpdateCmekConfig": (tasks_v2.UpdateCmekConfigRequest.pb(), CmekConfigPb),
        }

    def admin_services(self) -> dict[str, dict[str, tuple[Any, Any]]]:
        ops = operations_pb2
        return {
            OPERATIONS_SERVICE: {
                "GetOperation": (ops.GetOperationRequest, ops.Operation),
                "ListOperations": (ops.ListOperationsRequest, ops.ListOperationsResponse),
                "DeleteOperation": (ops.DeleteOperationRequest, empty_pb2.Empty),
                "CancelOperation": (ops.CancelOperationRequest, empty_pb2.Empty),
                "WaitOperation": (ops.WaitOperationRequest, ops.Operation),
            },
            LOCATIONS_SERVICE: {
                "ListLocations": (
                    locations_pb2.ListLocationsRequest,
                    locations_pb2.ListLocationsResponse,
                ),
                "GetLocation": (locations_pb2.GetLocationRequest, locations_pb2.Location),
            },
        }


def _empty_policy() -> policy_pb2.Policy:
    return policy_pb2.Policy(etag=EMPTY_POLICY_ETAG)


def _cmek_name(text: str, field: str) -> str:
    match = _CMEK_NAME_RE.match(text.strip())
    if not match:
        raise invalid(
            field, f"expected projects/PROJECT_ID/locations/LOCATION_ID/cmekConfig, got {text!r}"
        )
    return f"projects/{match[1]}/locations/{match[2]}/cmekConfig"
