-- Times are integer microseconds since the epoch (*_us). Protobuf messages are stored
-- serialized; the columns beside them are what queries filter, sort or update on.
CREATE TABLE queues (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,      -- projects/P/locations/L/queues/Q
    parent      TEXT NOT NULL,             -- projects/P/locations/L
    state       INTEGER NOT NULL,          -- google.cloud.tasks.v2.Queue.State
    queue       BLOB NOT NULL,             -- serialized Queue (state and purge_time included)
    created_us  INTEGER NOT NULL,
    purge_us    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queues_by_parent ON queues (parent, name);

-- The blob holds the task as created (FULL view); the mutable fields live in columns and
-- override the blob when a task is read, so the dispatcher never rewrites blobs.
-- Unnamed tasks get the ID ``task_ids.encode(id)``, so they are found by row id and need no
-- entry in the name index: inserting random IDs into a B-tree dirties a page per insert.
-- AUTOINCREMENT: a row id (hence a generated task ID) is never handed out twice.
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id        INTEGER NOT NULL REFERENCES queues (id),
    task_id         TEXT NOT NULL,
    named           INTEGER NOT NULL,      -- 1 = caller chose the name (dedup applies)
    schedule_us     INTEGER NOT NULL,
    create_us       INTEGER NOT NULL,
    dispatch_count  INTEGER NOT NULL DEFAULT 0,
    response_count  INTEGER NOT NULL DEFAULT 0,
    first_attempt   BLOB,                  -- serialized Attempt or NULL
    last_attempt    BLOB,                  -- serialized Attempt or NULL
    task            BLOB NOT NULL
);
CREATE UNIQUE INDEX tasks_by_name ON tasks (queue_id, task_id) WHERE named = 1;
CREATE INDEX tasks_by_schedule ON tasks (queue_id, schedule_us);

-- Names that cannot be reused until expires_us: kind 'task' (dedup window) or 'queue'.
CREATE TABLE tombstones (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    expires_us  INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE INDEX tombstones_by_expiry ON tombstones (expires_us);

-- Long-running operations of BatchCreateTasks / BatchDeleteTasks.
CREATE TABLE operations (
    name        TEXT PRIMARY KEY,
    method      TEXT NOT NULL,
    parent      TEXT NOT NULL,
    request_id  TEXT,
    operation   BLOB NOT NULL,             -- serialized google.longrunning.Operation
    created_us  INTEGER NOT NULL
);
CREATE UNIQUE INDEX operations_by_request ON operations (method, parent, request_id)
    WHERE request_id IS NOT NULL;

CREATE TABLE iam_policies (
    resource    TEXT PRIMARY KEY,
    policy      BLOB NOT NULL              -- serialized google.iam.v1.Policy
);

-- Small engine-wide settings, e.g. the key of the task ID permutation.
CREATE TABLE meta (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE cmek_configs (
    name        TEXT PRIMARY KEY,          -- projects/P/locations/L/cmekConfig
    config      BLOB NOT NULL
);
