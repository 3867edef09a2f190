"""IAM commands of ``tasksctl queues``: get/set/add-binding/remove-binding, plus
``test-iam-permissions`` (the API has it; gcloud does not).

Policies are shown and read in the API's JSON form (``bindings``, ``etag``, ``version``), so the
output of ``get-iam-policy --format json`` is a valid ``set-iam-policy`` file. Binding edits do
a read-modify-write with the policy's etag, so a concurrent change makes the write fail rather
than be lost.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.cli.options import QueueArgument
from tasksctl.errors import TasksctlError, UsageError

_MEMBER_TYPES = (
    "user:",
    "serviceAccount:",
    "group:",
    "domain:",
    "principal:",
    "principalSet:",
    "deleted:",
    "projectOwner:",
    "projectEditor:",
    "projectViewer:",
)
_SPECIAL_MEMBERS = ("allUsers", "allAuthenticatedUsers")

MemberOption = Annotated[
    str,
    typer.Option(
        "--member",
        metavar="PRINCIPAL",
        show_default=False,
        help="The principal, e.g. user:ada@example.com, "
        "serviceAccount:sa@p.iam.gserviceaccount.com, group:g@example.com, domain:example.com, "
        "allUsers.",
    ),
]
RoleOption = Annotated[
    str,
    typer.Option(
        "--role",
        metavar="ROLE",
        show_default=False,
        help="The role, e.g. roles/cloudtasks.enqueuer.",
    ),
]


def _check_member(member: str) -> str:
    member = member.strip()
    if member in _SPECIAL_MEMBERS or member.startswith(_MEMBER_TYPES):
        return member
    raise UsageError(
        f"argument --member: Invalid principal [{member}]; use TYPE:ID such as "
        "user:ada@example.com, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, or allUsers."
    )


def read_policy_file(path: str) -> Any:
    """Parse a JSON or YAML IAM policy file (``-`` = stdin) into a ``Policy`` message."""
    import sys

    from google.iam.v1 import policy_pb2
    from google.protobuf import json_format

    from tasksctl.bounded_input import POLICY_MAX_BYTES, nesting_guard, read_text

    text = read_text(path, POLICY_MAX_BYTES, "Policy file", sys.stdin)
    with nesting_guard(f"Policy file [{path}]"):
        try:
            data = json.loads(text)
        except ValueError:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise UsageError(f"Policy file [{path}] is neither JSON nor YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"Policy file [{path}] must hold an IAM policy object.")
    try:
        return json_format.ParseDict(data, policy_pb2.Policy())
    except json_format.ParseError as exc:
        raise UsageError(f"Policy file [{path}] is not a valid IAM policy: {exc}") from None


NO_ETAG_WARNING = (
    'The specified policy does not contain an "etag" field identifying a specific version to '
    'replace. Changing a policy without an "etag" can overwrite concurrent policy changes.'
)


def _show_updated(cli: Cli, queue: str, policy: Any) -> None:
    cli.out.status(f"Updated IAM policy for queue [{queue}].")
    cli.print_resource(policy)


def register(app: TasksctlTyper) -> None:
    """Add the IAM commands to the ``queues`` app."""

    @app.command("get-iam-policy")
    def get_iam_policy(cli: Cli, queue: QueueArgument) -> None:
        """Show the IAM policy of a queue (YAML by default)."""
        name = cli.queue_name(queue)
        cli.print_resource(cli.client.get_iam_policy(request={"resource": str(name)}))

    @app.command("set-iam-policy")
    def set_iam_policy(
        cli: Cli,
        queue: QueueArgument,
        policy_file: Annotated[
            str,
            typer.Argument(
                metavar="POLICY_FILE",
                show_default=False,
                help="JSON or YAML file with the IAM policy ('-' reads stdin). A policy without an "
                "etag replaces any existing policy.",
            ),
        ],
    ) -> None:
        """Replace the IAM policy of a queue with the one in POLICY_FILE."""
        name = cli.queue_name(queue)
        policy = read_policy_file(policy_file)
        if not policy.etag:  # gcloud asks here too (iam_util.ParsePolicyFileWithUpdateMask)
            cli.out.confirm("Replace existing policy", message=NO_ETAG_WARNING)
        result = cli.client.set_iam_policy(request={"resource": str(name), "policy": policy})
        _show_updated(cli, name.queue, result)

    @app.command("add-iam-policy-binding")
    def add_iam_policy_binding(
        cli: Cli, queue: QueueArgument, member: MemberOption, role: RoleOption
    ) -> None:
        """Grant ROLE to PRINCIPAL on a queue."""
        name = cli.queue_name(queue)
        member = _check_member(member)
        policy = cli.client.get_iam_policy(request={"resource": str(name)})
        binding = next(
            (b for b in policy.bindings if b.role == role and not b.HasField("condition")), None
        )
        if binding is None:
            binding = policy.bindings.add(role=role)
        if member not in binding.members:
            binding.members.append(member)
        result = cli.client.set_iam_policy(request={"resource": str(name), "policy": policy})
        _show_updated(cli, name.queue, result)

    @app.command("remove-iam-policy-binding")
    def remove_iam_policy_binding(
        cli: Cli, queue: QueueArgument, member: MemberOption, role: RoleOption
    ) -> None:
        """Revoke ROLE from PRINCIPAL on a queue."""
        name = cli.queue_name(queue)
        member = _check_member(member)
        policy = cli.client.get_iam_policy(request={"resource": str(name)})
        for index, binding in enumerate(policy.bindings):
            if binding.role == role and member in binding.members:
                binding.members.remove(member)
                if not binding.members:
                    del policy.bindings[index]
                break
        else:
            raise TasksctlError("Policy binding with the specified principal and role not found!")
        result = cli.client.set_iam_policy(request={"resource": str(name), "policy": policy})
        _show_updated(cli, name.queue, result)

    @app.command("test-iam-permissions")
    def test_iam_permissions(
        cli: Cli,
        queue: QueueArgument,
        permissions: Annotated[
            list[str],
            typer.Argument(
                metavar="PERMISSION...",
                show_default=False,
                help="Permissions to test, e.g. cloudtasks.tasks.create.",
            ),
        ],
    ) -> None:
        """Show which of PERMISSION... the caller has on a queue (not in gcloud)."""
        name = cli.queue_name(queue)
        response = cli.client.test_iam_permissions(
            request={"resource": str(name), "permissions": list(permissions)}
        )
        cli.render("yaml").resource({"permissions": list(response.permissions)})
