"""The parity cases: every `gcloud tasks` command and flag, formats, list flags, prompts, errors.

Read-only cases share the state :func:`shared_state` builds (location ``us-central1``); a case
that changes something brings its own queue (and tasks) through ``setup``, named after the case,
in location ``us-east1`` which no read-only case lists. Queues that hold tasks are paused, so
nothing is dispatched while the two tools look at them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.parity.harness import LOCATION, PROJECT, Case

SCRATCH = "us-east1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
SCRATCH_PARENT = f"projects/{PROJECT}/locations/{SCRATCH}"
LOC = ("--location", LOCATION)
SLOC = ("--location", SCRATCH)
FAR = "2026-01-20T00:00:00Z"  # within the 30 days the API allows, after the clock start
TARGET = "http://127.0.0.1:9/never"  # nothing is dispatched: task queues are paused


def shared_state(client: Any) -> None:
    """Queues and tasks that read-only cases look at."""
    queues = [
        {"name": f"{PARENT}/queues/alpha"},
        {
            "name": f"{PARENT}/queues/bravo",
            "rate_limits": {"max_dispatches_per_second": 2.5, "max_concurrent_dispatches": 3},
            "retry_config": {
                "max_attempts": 5,
                "min_backoff": {"seconds": 1},
                "max_backoff": {"seconds": 30},
                "max_doublings": 3,
                "max_retry_duration": {"seconds": 600},
            },
        },
        {
            "name": f"{PARENT}/queues/charlie",
            "retry_config": {"max_attempts": -1},
            "http_target": {
                "uri_override": {
                    "host": "example.com",
                    "scheme": 2,
                    "path_override": {"path": "/p"},
                },
                "http_method": 2,
                "header_overrides": [{"header": {"key": "X-A", "value": "1"}}],
                "oidc_token": {
                    "service_account_email": "sa@p.iam.gserviceaccount.com",
                    "audience": "https://aud",
                },
            },
            "stackdriver_logging_config": {"sampling_ratio": 0.5},
        },
        {
            "name": f"{PARENT}/queues/delta",
            "app_engine_routing_override": {"service": "worker", "version": "v1"},
        },
    ]
    for spec in queues:
        client.create_queue(parent=PARENT, queue=spec)
    bravo = f"{PARENT}/queues/bravo"
    client.pause_queue(name=bravo)
    client.pause_queue(name=f"{PARENT}/queues/delta")
    tasks = [
        {
            "name": f"{bravo}/tasks/t-post",
            "http_request": {
                "url": "https://example.com/a",
                "http_method": 1,
                "headers": {"Content-Type": "application/json"},
                "body": b'{"a": 1}',
            },
        },
        {
            "name": f"{bravo}/tasks/t-get",
            "http_request": {"url": "https://example.com/b?x=1", "http_method": 2},
            "schedule_time": {"seconds": 1768867200},
        },
        {
            "name": f"{bravo}/tasks/t-oidc",
            "http_request": {
                "url": "https://example.com/c",
                "oidc_token": {"service_account_email": "sa@p.iam.gserviceaccount.com"},
            },
        },
        {"name": f"{bravo}/tasks/t-put", "http_request": {"url": TARGET, "http_method": 4}},
        {"name": f"{bravo}/tasks/t-del", "http_request": {"url": TARGET, "http_method": 5}},
    ]
    for task in tasks:
        client.create_task(parent=bravo, task=task)
    client.create_task(
        parent=f"{PARENT}/queues/delta",
        task={
            "name": f"{PARENT}/queues/delta/tasks/ae-1",
            "app_engine_http_request": {
                "relative_uri": "/work?x=1",
                "app_engine_routing": {"service": "worker"},
                "body": b"hi",
            },
        },
    )
    queue("tc", paused=True)(client)  # the scratch queue create-http-task cases fill
    client.set_iam_policy(
        request={
            "resource": f"{PARENT}/queues/alpha",
            "policy": {"bindings": [{"role": "roles/viewer", "members": ["user:a@example.com"]}]},
        }
    )


def queue(name: str, paused: bool = False, **fields: Any) -> Callable[[Any], None]:
    """Setup: a scratch queue (optionally paused) with ``fields``."""

    def setup(client: Any) -> None:
        full = f"{SCRATCH_PARENT}/queues/{name}"
        client.create_queue(parent=SCRATCH_PARENT, queue={"name": full, **fields})
        if paused:
            client.pause_queue(name=full)

    return setup


def queue_with_tasks(name: str, *task_ids: str) -> Callable[[Any], None]:
    """Setup: a paused scratch queue holding HTTP tasks ``task_ids``."""

    def setup(client: Any) -> None:
        queue(name, paused=True)(client)
        parent = f"{SCRATCH_PARENT}/queues/{name}"
        for task_id in task_ids:
            client.create_task(
                parent=parent,
                task={"name": f"{parent}/tasks/{task_id}", "http_request": {"url": TARGET}},
            )

    return setup


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(case_id: str, *args: str, **kw: Any) -> None:
        cases.append(Case(case_id, tuple(args), **kw))

    # -- queues list: formats ---------------------------------------------------------------
    ql = ("queues", "list", *LOC)
    add("ql-default", *ql)
    for fmt_id, fmt in [
        ("json", "json"),
        ("yaml", "yaml"),
        ("value-name", "value(name)"),
        ("value-name-state", "value(name,state)"),
        ("value-separator", 'value[separator=","](name,state)'),
        ("value-dict", "value(rateLimits)"),
        ("csv", "csv(name,state)"),
        ("csv-noheading", "csv[no-heading](name,retryConfig.maxAttempts)"),
        ("csv-nested", "csv(name,rateLimits.maxBurstSize,retryConfig)"),
        ("table", "table(name,state)"),
        ("table-labels", "table(QUEUE_NAME,MAX_ATTEMPTS)"),
        ("table-label", "table(name.basename():label=Q,state:label=S)"),
        ("table-noheading", "table[no-heading](name,state)"),
        ("table-bare", "table"),
        ("flattened", "flattened"),
        ("flattened-cols", "flattened(name,state)"),
        ("text", "text"),
        ("json-cols", "json(name,state)"),
        ("yaml-cols", "yaml(name,rateLimits.maxDispatchesPerSecond)"),
        ("none", "none"),
        ("default", "default"),
        ("bad", "xml"),
    ]:
        add(f"ql-format-{fmt_id}", *ql, "--format", fmt)
    # -- queues list: list flags ------------------------------------------------------------
    add("ql-filter-eq", *ql, "--filter", "state=PAUSED")
    add("ql-filter-has", *ql, "--filter", "name:charlie")
    add("ql-filter-lt", *ql, "--filter", "rateLimits.maxDispatchesPerSecond<10")
    add("ql-filter-not", *ql, "--filter", "NOT state:PAUSED")
    add("ql-filter-empty", *ql, "--filter", "state=DISABLED")
    add("ql-filter-empty-json", *ql, "--filter", "state=DISABLED", "--format", "json")
    add("ql-filter-bad", *ql, "--filter", "state=(")
    add("ql-limit", *ql, "--limit", "2")
    add("ql-limit-zero", *ql, "--limit", "0")
    add("ql-limit-abc", *ql, "--limit", "abc")
    add("ql-limit-unlimited", *ql, "--limit", "unlimited", "--format", "value(name)")
    add("ql-filter-limit", *ql, "--filter", "state=PAUSED", "--limit", "1")
    add("ql-sort", *ql, "--sort-by", "~name")
    add("ql-sort-two", *ql, "--sort-by", "state,~name", "--format", "value(name,state)")
    add("ql-sort-limit", *ql, "--sort-by", "~name", "--limit", "1", "--format", "value(name)")
    add("ql-page-size", *ql, "--page-size", "2")
    add("ql-page-size-value", *ql, "--page-size", "3", "--format", "value(name)")
    add("ql-uri", *ql, "--uri")
    add("ql-uri-filter", *ql, "--uri", "--filter", "state=PAUSED")
    add("ql-empty-location", "queues", "list", "--location", "asia-east1")
    # -- queues describe / IAM read ---------------------------------------------------------
    for name in ("alpha", "bravo", "charlie", "delta"):
        add(f"qd-{name}", "queues", "describe", name, *LOC)
    add("qd-json", "queues", "describe", "charlie", *LOC, "--format", "json")
    add("qd-value", "queues", "describe", "bravo", *LOC, "--format", "value(name,state)")
    add("qd-flattened", "queues", "describe", "charlie", *LOC, "--format", "flattened")
    add("qd-full-name", "queues", "describe", f"{PARENT}/queues/alpha")
    add("qd-not-found", "queues", "describe", "nope", *LOC)
    add("qd-missing-arg", "queues", "describe", *LOC)
    add("qd-extra-arg", "queues", "describe", "a", "b", *LOC)
    add("q-get-iam", "queues", "get-iam-policy", "alpha", *LOC)
    add("q-get-iam-json", "queues", "get-iam-policy", "alpha", *LOC, "--format", "json")
    add("q-get-iam-empty", "queues", "get-iam-policy", "bravo", *LOC)
    add("q-get-iam-not-found", "queues", "get-iam-policy", "nope", *LOC)
    # -- usage errors ----------------------------------------------------------------------
    add("err-unknown-flag", "queues", "list", *LOC, "--bogus")
    add("err-unknown-command", "queues", "lst")
    add("err-flag-needs-value", "queues", "list", "--location")
    add("err-verbosity", "queues", "list", *LOC, "--verbosity", "loud")
    add("err-bad-int", "queues", "create", "x", *SLOC, "--max-doublings", "two")
    add("err-bad-float", "queues", "create", "x", *SLOC, "--log-sampling-ratio", "half")
    add("err-bad-attempts", "queues", "create", "x", *SLOC, "--max-attempts", "many")
    add("err-attempts-low", "queues", "create", "x", *SLOC, "--max-attempts", "-5")
    add("err-bad-routing", "queues", "create", "x", *SLOC, "--routing-override", "foo:bar")
    add("err-bad-header", "queues", "create", "x", *SLOC, "--http-header-override", "NoColon")
    add("err-update-nothing", "queues", "update", "alpha", *LOC)
    add("err-tasks-no-queue", "list", *LOC)
    # -- queues create ----------------------------------------------------------------------
    add("qc-basic", "queues", "create", "qc-basic", *SLOC)
    add("qc-json", "queues", "create", "qc-json", *SLOC, "--format", "json")
    add(
        "qc-retry",
        *("queues", "create", "qc-retry", *SLOC, "--max-attempts", "7"),
        *("--min-backoff", "2s", "--max-backoff", "20s", "--max-doublings", "4"),
        *("--max-retry-duration", "300s", "--format", "yaml"),
    )
    add(
        "qc-rate",
        *("queues", "create", "qc-rate", *SLOC, "--max-dispatches-per-second", "7.5"),
        *("--max-concurrent-dispatches", "9", "--format", "yaml"),
    )
    add("qc-unlimited", "queues", "create", "qc-unlimited", *SLOC, "--max-attempts", "unlimited")
    add(
        "qc-routing",
        *("queues", "create", "qc-routing", *SLOC),
        *("--routing-override", "service:s,version:v", "--format", "json"),
    )
    add(
        "qc-http",
        *("queues", "create", "qc-http", *SLOC, "--http-method-override", "put"),
        *("--http-uri-override", "scheme:https,host:example.com,port:8443,path:/x,query:a=b"),
        *("--http-header-override", "X-Y: z", "--format", "json"),
    )
    add(
        "qc-oidc",
        *("queues", "create", "qc-oidc", *SLOC),
        *("--http-oidc-service-account-email-override", "sa@p.iam.gserviceaccount.com"),
        *("--http-oidc-token-audience-override", "https://aud", "--format", "json"),
    )
    add(
        "qc-oauth",
        *("queues", "create", "qc-oauth", *SLOC),
        *("--http-oauth-service-account-email-override", "sa@p.iam.gserviceaccount.com"),
        *("--http-oauth-token-scope-override", "https://scope", "--format", "json"),
    )
    add("qc-logging", "queues", "create", "qc-logging", *SLOC, "--log-sampling-ratio", "0.25")
    add("qc-exists", "queues", "create", "qc-exists", *SLOC, setup=queue("qc-exists"))
    add("qc-minutes", "queues", "create", "qc-minutes", *SLOC, "--max-retry-duration", "1m")
    add(
        "qc-rate-high",
        "queues",
        "create",
        "qc-rate-high",
        *SLOC,
        "--max-dispatches-per-second",
        "1000",
    )
    add(
        "qc-header-only",
        "queues",
        "create",
        "qc-hdr",
        *SLOC,
        "--http-header-override",
        "A: b",
        "--format",
        "json",
    )
    # -- queues update ----------------------------------------------------------------------
    add(
        "qu-attempts", "queues", "update", "qu-a", *SLOC, "--max-attempts", "3", setup=queue("qu-a")
    )
    add(
        "qu-clear",
        *("queues", "update", "qu-c", *SLOC, "--clear-max-attempts", "--format", "yaml"),
        setup=queue("qu-c", retry_config={"max_attempts": 4}),
    )
    add(
        "qu-rate-json",
        *(
            "queues",
            "update",
            "qu-r",
            *SLOC,
            "--max-dispatches-per-second",
            "3",
            "--format",
            "json",
        ),
        setup=queue("qu-r"),
    )
    add(
        "qu-clear-uri",
        *("queues", "update", "qu-u", *SLOC, "--clear-http-uri-override", "--format", "json"),
        setup=queue("qu-u", http_target={"uri_override": {"host": "h.example.com"}}),
    )
    add("qu-not-found", "queues", "update", "nope", *SLOC, "--max-attempts", "3")
    full = {
        "retry_config": {"max_attempts": 4, "min_backoff": {"seconds": 2}},
        "rate_limits": {"max_dispatches_per_second": 4.0, "max_concurrent_dispatches": 4},
        "stackdriver_logging_config": {"sampling_ratio": 0.5},
    }
    add(
        "qu-retry-all",
        *(
            "queues",
            "update",
            "qu-ra",
            *SLOC,
            "--max-retry-duration",
            "60s",
            "--max-doublings",
            "2",
        ),
        *("--min-backoff", "1s", "--max-backoff", "9s", "--format", "json"),
        setup=queue("qu-ra"),
    )
    add(
        "qu-clear-all",
        *("queues", "update", "qu-ca", *SLOC, "--clear-max-attempts", "--clear-min-backoff"),
        *("--clear-max-dispatches-per-second", "--clear-max-concurrent-dispatches"),
        *("--clear-log-sampling-ratio", "--clear-max-retry-duration", "--clear-max-backoff"),
        *("--clear-max-doublings", "--format", "json"),
        setup=queue("qu-ca", **full),
    )
    add(
        "qu-routing",
        *(
            "queues",
            "update",
            "qu-ro",
            *SLOC,
            "--routing-override",
            "service:a",
            "--format",
            "json",
        ),
        setup=queue("qu-ro"),
    )
    add(
        "qu-clear-routing",
        *("queues", "update", "qu-cr", *SLOC, "--clear-routing-override", "--format", "json"),
        setup=queue("qu-cr", app_engine_routing_override={"service": "a"}),
    )
    add(
        "qu-http",
        *("queues", "update", "qu-h", *SLOC, "--http-method-override", "GET"),
        *("--http-uri-override", "host:u.example.com,mode:ALWAYS", "--format", "json"),
        setup=queue("qu-h"),
    )
    add(
        "qu-clear-http",
        *("queues", "update", "qu-ch", *SLOC, "--clear-http-method-override"),
        *("--clear-http-header-override", "--format", "json"),
        setup=queue(
            "qu-ch",
            http_target={
                "http_method": 2,
                "header_overrides": [{"header": {"key": "A", "value": "1"}}],
            },
        ),
    )
    add(
        "qu-oidc",
        *("queues", "update", "qu-o", *SLOC),
        *("--http-oidc-service-account-email-override", "sa@p.iam.gserviceaccount.com"),
        *("--http-oidc-token-audience-override", "https://aud", "--format", "json"),
        setup=queue("qu-o"),
    )
    add(
        "qu-oidc-no-email",
        *("queues", "update", "qu-oe", *SLOC, "--http-oidc-token-audience-override", "a"),
        setup=queue("qu-oe"),
    )
    add(
        "qu-oauth-no-email",
        *("queues", "update", "qu-ae", *SLOC, "--http-oauth-token-scope-override", "s"),
        setup=queue("qu-ae"),
    )
    add(
        "qu-clear-oauth",
        *("queues", "update", "qu-co", *SLOC, "--clear-http-oauth-service-account-email-override"),
        *("--clear-http-oauth-token-scope-override", "--format", "json"),
        setup=queue(
            "qu-co",
            http_target={
                "oauth_token": {
                    "service_account_email": "sa@p.iam.gserviceaccount.com",
                    "scope": "https://scope",
                }
            },
        ),
    )
    add(
        "qu-both-value-and-clear",
        *("queues", "update", "qu-b", *SLOC, "--max-attempts", "3", "--clear-max-attempts"),
        setup=queue("qu-b"),
    )
    add(
        "qc-oidc-and-oauth",
        "queues",
        "create",
        "qc-oo",
        *SLOC,
        "--http-oidc-service-account-email-override",
        "a@p.iam.gserviceaccount.com",
        "--http-oauth-service-account-email-override",
        "b@p.iam.gserviceaccount.com",
    )
    add("qc-project-flag", "queues", "describe", "alpha", *LOC, "--project", "other-project")
    add(
        "tc-body-both",
        "create-http-task",
        "tc-bb",
        "--queue",
        "tc",
        *SLOC,
        "--url",
        TARGET,
        "--body-content",
        "a",
        "--body-file",
        "x",
    )
    add("cmek-update-clear", "cmek-config", "update", *SLOC, "--clear-kms-key")
    add("loc-describe-json", "locations", "describe", LOCATION, "--format", "json")
    add("loc-describe-missing", "locations", "describe", "mars-north1")
    # -- pause / resume / purge / delete ----------------------------------------------------
    add("qp-pause", "queues", "pause", "qp-p", *SLOC, setup=queue("qp-p"))
    add(
        "qp-pause-json", "queues", "pause", "qp-pj", *SLOC, "--format", "json", setup=queue("qp-pj")
    )
    add("qp-resume", "queues", "resume", "qp-r", *SLOC, setup=queue("qp-r", paused=True))
    add(
        "qp-resume-json",
        *("queues", "resume", "qp-rj", *SLOC, "--format", "json"),
        setup=queue("qp-rj", paused=True),
    )
    add("qp-pause-not-found", "queues", "pause", "nope", *SLOC)
    add(
        "qx-purge-quiet",
        "queues",
        "purge",
        "qx-pq",
        *SLOC,
        "--quiet",
        setup=queue_with_tasks("qx-pq", "a"),
    )
    add("qx-purge-no-tty", "queues", "purge", "qx-pn", *SLOC, setup=queue("qx-pn"))
    add("qx-purge-tty-yes", "queues", "purge", "qx-py", *SLOC, setup=queue("qx-py"), answer=b"y\n")
    add(
        "qx-purge-tty-reprompt",
        *("queues", "purge", "qx-pr", *SLOC),
        setup=queue("qx-pr"),
        answer=b"maybe\ny\n",
    )
    add("qx-delete-quiet", "queues", "delete", "qx-dq", *SLOC, "-q", setup=queue("qx-dq"))
    add("qx-delete-no-tty", "queues", "delete", "qx-dn", *SLOC, setup=queue("qx-dn"))
    add(
        "qx-delete-tty-no",
        "queues",
        "delete",
        "qx-dno",
        *SLOC,
        setup=queue("qx-dno"),
        answer=b"n\n",
    )
    add("qx-delete-tty-yes", "queues", "delete", "qx-dy", *SLOC, setup=queue("qx-dy"), answer=b"\n")
    add(
        "qx-delete-tty-eof",
        *("queues", "delete", "qx-de", *SLOC),
        setup=queue("qx-de"),
        answer=b"\x04",
    )
    add(
        "qx-delete-json",
        "queues",
        "delete",
        "qx-dj",
        *SLOC,
        "-q",
        "--format",
        "json",
        setup=queue("qx-dj"),
    )
    add("qx-delete-not-found", "queues", "delete", "nope", *SLOC, "--quiet")
    # -- IAM writes -------------------------------------------------------------------------
    member = ("--member", "user:b@example.com", "--role", "roles/viewer")
    add("qi-add", "queues", "add-iam-policy-binding", "qi-a", *SLOC, *member, setup=queue("qi-a"))
    add(
        "qi-add-json",
        *("queues", "add-iam-policy-binding", "qi-aj", *SLOC, *member, "--format", "json"),
        setup=queue("qi-aj"),
    )
    add(
        "qi-remove-missing",
        "queues",
        "remove-iam-policy-binding",
        "qi-r",
        *SLOC,
        *member,
        setup=queue("qi-r"),
    )
    policy = "bindings:\n- members:\n  - user:c@example.com\n  role: roles/viewer\n"
    add(
        "qi-set-etag-quiet",
        *("queues", "set-iam-policy", "qi-s", "policy.yaml", *SLOC, "--quiet"),
        setup=queue("qi-s"),
        files={"policy.yaml": policy},
    )
    add(
        "qi-set-etag-tty",
        *("queues", "set-iam-policy", "qi-st", "policy.yaml", *SLOC),
        setup=queue("qi-st"),
        files={"policy.yaml": policy},
        answer=b"y\n",
    )
    add(
        "qi-set-etag-no-tty",
        *("queues", "set-iam-policy", "qi-sn", "policy.yaml", *SLOC),
        setup=queue("qi-sn"),
        files={"policy.yaml": policy},
    )
    add(
        "qi-set-json-file",
        *("queues", "set-iam-policy", "qi-sj", "policy.json", *SLOC, "-q", "--format", "json"),
        setup=queue("qi-sj"),
        files={"policy.json": '{"bindings": [{"role": "roles/viewer", "members": ["allUsers"]}]}'},
    )
    # -- tasks list / describe --------------------------------------------------------------
    tl = ("list", "--queue", "bravo", *LOC)
    add("tl-default", *tl)
    add("tl-ae", "list", "--queue", "delta", *LOC)
    for fmt_id, fmt in [
        ("json", "json"),
        ("yaml", "yaml"),
        ("value-name", "value(name)"),
        ("csv", "csv(name,scheduleTime)"),
        ("table", "table(name,httpRequest.httpMethod)"),
        ("flattened", "flattened"),
    ]:
        add(f"tl-format-{fmt_id}", *tl, "--format", fmt)
    add("tl-limit", *tl, "--limit", "2")
    add("tl-page-size", *tl, "--page-size", "2")
    add("tl-sort", *tl, "--sort-by", "~name", "--format", "value(name)")
    add("tl-filter", *tl, "--filter", "httpRequest.httpMethod=GET", "--format", "value(name)")
    add("tl-filter-limit", *tl, "--filter", "name~t-p", "--limit", "2", "--format", "value(name)")
    add("tl-filter-word", *tl, "--filter", "name:t-p", "--format", "value(name)")
    add("tl-uri", *tl, "--uri")
    add("tl-full-queue", "list", "--queue", f"{PARENT}/queues/bravo", "--format", "value(name)")
    add("tl-not-found", "list", "--queue", "nope", *LOC)
    td = ("describe", "t-post", "--queue", "bravo", *LOC)
    add("td-default", *td)
    add("td-full", *td, "--response-view", "full")
    add("td-basic", *td, "--response-view", "basic")
    add("td-bad-view", *td, "--response-view", "x")
    add("td-json", *td, "--format", "json")
    add("td-oidc", "describe", "t-oidc", "--queue", "bravo", *LOC, "--response-view", "full")
    add("td-ae", "describe", "ae-1", "--queue", "delta", *LOC, "--response-view", "full")
    add("td-full-name", "describe", f"{PARENT}/queues/bravo/tasks/t-get")
    add("td-not-found", "describe", "nope", "--queue", "bravo", *LOC)
    add("td-no-queue", "describe", "t-post", *LOC)

    # -- tasks create -----------------------------------------------------------------------
    def http_task(case_id: str, *flags: str, **kw: Any) -> None:
        name = case_id
        add(
            case_id,
            *("create-http-task", name, "--queue", "tc", *SLOC, "--url", "https://example.com/x"),
            *flags,
            **kw,
        )

    http_task("tc-basic")
    http_task("tc-json", "--format", "json")
    http_task("tc-method", "--method", "put", "--format", "value(httpRequest.httpMethod)")
    http_task("tc-headers", "--header", "X-A: 1", "--header", "X-B:2,3", "--format", "json")
    http_task("tc-body", "--body-content", "hello", "--format", "json")
    http_task(
        "tc-body-file",
        "--body-file",
        "body.txt",
        "--format",
        "json",
        files={"body.txt": "from a file\n"},
    )
    http_task("tc-body-stdin", "--body-file", "-", "--format", "json", stdin="piped body")
    http_task("tc-schedule", "--schedule-time", FAR, "--format", "value(scheduleTime)")
    http_task(
        "tc-oidc",
        *("--oidc-service-account-email", "sa@p.iam.gserviceaccount.com"),
        *("--oidc-token-audience", "https://aud", "--format", "json"),
    )
    http_task(
        "tc-oauth",
        *("--oauth-service-account-email", "sa@p.iam.gserviceaccount.com"),
        *("--oauth-token-scope", "https://scope", "--format", "json"),
    )
    http_task("tc-body-get", "--method", "GET", "--body-content", "x")
    add("tc-bad-url", "create-http-task", "tc-bad-url", "--queue", "tc", *SLOC, "--url", "ftp://x")
    add(
        "tc-bad-method",
        "create-http-task",
        "tc-bm",
        "--queue",
        "tc",
        *SLOC,
        "--url",
        TARGET,
        "--method",
        "FETCH",
    )
    add("tc-no-url", "create-http-task", "tc-no-url", "--queue", "tc", *SLOC)
    add(
        "tc-generated-id",
        *("create-http-task", "--queue", "tcg", *SLOC, "--url", TARGET),
        setup=queue("tcg", paused=True),
        generated_ids=True,
    )
    add(
        "tc-exists",
        *("create-http-task", "dup", "--queue", "tce", *SLOC, "--url", TARGET),
        setup=queue_with_tasks("tce", "dup"),
    )
    add("tc-queue-not-found", "create-http-task", "x", "--queue", "nope", *SLOC, "--url", TARGET)
    add(
        "tc-full-name",
        "create-http-task",
        f"{SCRATCH_PARENT}/queues/tc/tasks/tc-full-name",
        "--queue",
        "tc",
        *SLOC,
        "--url",
        TARGET,
    )
    add(
        "ta-basic",
        "create-app-engine-task",
        "ta-basic",
        "--queue",
        "ta",
        *SLOC,
        "--format",
        "json",
        setup=queue("ta", paused=True),
    )
    add(
        "ta-routing",
        *(
            "create-app-engine-task",
            "ta-routing",
            "--queue",
            "tar",
            *SLOC,
            "--relative-uri",
            "/r?x=1",
        ),
        *("--routing", "service:s,version:v", "--method", "GET", "--format", "json"),
        setup=queue("tar", paused=True),
    )
    add(
        "ta-body",
        *("create-app-engine-task", "ta-body", "--queue", "tab", *SLOC, "--body-content", "b"),
        *("--header", "X-C: 3", "--format", "json"),
        setup=queue("tab", paused=True),
    )
    # -- tasks run / delete -----------------------------------------------------------------
    add(
        "tr-run",
        "run",
        "r1",
        "--queue",
        "tr",
        *SLOC,
        "--format",
        "value(name,dispatchCount)",
        setup=queue_with_tasks("tr", "r1"),
    )
    add("tr-not-found", "run", "nope", "--queue", "tc", *SLOC)
    add("tx-delete", "delete", "d1", "--queue", "tx", *SLOC, setup=queue_with_tasks("tx", "d1"))
    add(
        "tx-delete-json",
        "delete",
        "d1",
        "--queue",
        "txj",
        *SLOC,
        "--format",
        "json",
        setup=queue_with_tasks("txj", "d1"),
    )
    add("tx-delete-not-found", "delete", "nope", "--queue", "tc", *SLOC)
    add("tb-buffer", "buffer", "--queue", "tc", *SLOC)
    # -- locations / cmek -------------------------------------------------------------------
    add("loc-list", "locations", "list")
    add("loc-list-json", "locations", "list", "--format", "json")
    add("loc-describe", "locations", "describe", LOCATION)
    add("cmek-describe", "cmek-config", "describe", *LOC)
    return cases


CASES = _cases()
