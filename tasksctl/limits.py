"""The Cloud Tasks v2 API's limits and service defaults, written once.

The CLI's flag checks (``task_flags``, ``queue_flags``), the declarative layer
(``declarative/fields``) and the engine's request validation (``engine/validation``) all read
these, so a limit cannot drift between the client side and the local service. Values are the
documented ones (cloud.google.com/tasks/docs/quotas and the v2 reference).
"""

from __future__ import annotations

# Methods a task (or a queue's http_target override) may use, in the API enum's order.
HTTP_METHODS = ("POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")
HTTP_BODY_METHODS = ("POST", "PUT", "PATCH")
APP_ENGINE_BODY_METHODS = ("POST", "PUT")

# Task size and shape.
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB
MAX_HEADERS_BYTES = 80 * 1024
MAX_URL_LENGTH = 2083
MAX_SCHEDULE_AHEAD_SECONDS = 30 * 86400  # 30 days
# dispatch_deadline bounds in seconds, and the service's default for HTTP tasks.
HTTP_DEADLINE_RANGE_SECONDS = (15, 30 * 60)
APP_ENGINE_DEADLINE_RANGE_SECONDS = (15, 24 * 3600 + 15)
HTTP_DEFAULT_DEADLINE_SECONDS = 600

# Queue rate limits: maxima and the defaults the service fills in.
MAX_RATE = 500.0
DEFAULT_RATE = 500.0
MAX_CONCURRENT = 5000
DEFAULT_CONCURRENT = 1000

# Queue retry defaults.
DEFAULT_MAX_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF_SECONDS = 0.1
DEFAULT_MAX_BACKOFF_SECONDS = 3600
DEFAULT_MAX_DOUBLINGS = 16

# Field ranges (issue 14): google.protobuf.Duration's range (about 10,000 years) bounds every
# duration field; int32 fields; TCP ports; a service account email is one '@' between non-blank
# parts (checked by the CLI before sending and by the engine).
MAX_DURATION_SECONDS = 315_576_000_000
INT32_MAX = 2**31 - 1
MAX_PORT = 65535
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"

# Largest page a List call returns.
QUEUES_MAX_PAGE = 9800
TASKS_MAX_PAGE = 1000
