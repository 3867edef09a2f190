-- Every SQL statement of the engine, loaded by name with tasksctl.engine.sql.query("name").
-- A section starts at a "-- name: NAME" line; comment lines inside a section document it and
-- are not part of the statement. Parameters are positional (?). Times are microseconds
-- since the epoch; the schema is in migrations/.

-- ==========================================================================================
-- connections (store.py): for every connection, then for the write connection only

-- name: connection_pragmas
-- WAL lets readers run beside the writer; busy_timeout covers the moment a checkpoint or
-- another process (e.g. an inspecting sqlite3 shell) holds a lock.
PRAGMA journal_mode=WAL;
PRAGMA busy_timeout=5000;
PRAGMA foreign_keys=OFF;

-- name: writer_pragmas_machine
-- --durability machine: the WAL is fsync'ed at every commit (on the committer thread), so an
-- OK survives power loss; checkpoints run inside commits, on that thread too.
PRAGMA synchronous=FULL;
PRAGMA wal_autocheckpoint=4000;

-- name: writer_pragmas_process
-- --durability process (default): a commit writes the WAL (the OS keeps it when the process
-- dies) without fsync; no checkpoint inside a commit, which runs on the loop thread: the
-- store's checkpointer thread checkpoints beside the writer instead.
PRAGMA synchronous=NORMAL;
PRAGMA wal_autocheckpoint=0;

-- ==========================================================================================
-- queues

-- name: select_queue
SELECT id, queue FROM queues WHERE name = ?;

-- name: select_queue_id
SELECT id FROM queues WHERE name = ?;

-- name: insert_queue
INSERT INTO queues (name, parent, state, queue, created_us) VALUES (?, ?, ?, ?, ?);

-- name: update_queue
UPDATE queues SET state = ?, queue = ?, purge_us = ? WHERE id = ?;

-- name: delete_queue
DELETE FROM queues WHERE id = ?;

-- name: list_queues
SELECT queue FROM queues WHERE parent = ? AND name > ? ORDER BY name LIMIT ?;

-- name: list_queues_by_state
SELECT queue FROM queues WHERE parent = ? AND name > ? AND state = ? ORDER BY name LIMIT ?;

-- name: count_queues
SELECT COUNT(*) FROM queues;

-- ==========================================================================================
-- tasks; a records.TaskRow is (id, task, schedule_us, dispatch_count, response_count,
-- first_attempt, last_attempt)

-- name: insert_task
INSERT INTO tasks (id, queue_id, task_id, named, schedule_us, create_us, task)
    VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: select_named_task
-- Named tasks are found through the partial index tasks_by_name.
SELECT id, task, schedule_us, dispatch_count, response_count, first_attempt, last_attempt
    FROM tasks
    WHERE queue_id = ? AND task_id = ? AND named = 1;

-- name: select_generated_task
-- Generated IDs decode to the row id (task_ids): found by primary key.
SELECT id, task, schedule_us, dispatch_count, response_count, first_attempt, last_attempt
    FROM tasks
    WHERE id = ? AND queue_id = ? AND task_id = ? AND named = 0;

-- name: named_task_exists
SELECT 1 FROM tasks WHERE queue_id = ? AND task_id = ? AND named = 1;

-- name: delete_task_row
DELETE FROM tasks WHERE id = ?;

-- name: list_tasks
-- Keyset pagination on (schedule_us, id).
SELECT id, task, schedule_us, dispatch_count, response_count, first_attempt, last_attempt
    FROM tasks
    WHERE queue_id = ? AND (schedule_us, id) > (?, ?)
    ORDER BY schedule_us, id
    LIMIT ?;

-- name: count_tasks
SELECT COUNT(*) FROM tasks;

-- name: tombstone_purged_tasks
-- Explicitly named tasks of a purged queue keep their names for the dedup window.
INSERT OR REPLACE INTO tombstones (kind, name, expires_us)
    SELECT 'task', ? || task_id, ?
    FROM tasks
    WHERE queue_id = ? AND named = 1 AND create_us < ?;

-- name: purge_tasks
DELETE FROM tasks WHERE queue_id = ? AND create_us < ?;

-- name: delete_queue_tasks
DELETE FROM tasks WHERE queue_id = ?;

-- name: earliest_task
SELECT MIN(schedule_us) FROM tasks WHERE queue_id = ?;

-- name: next_task_rowid
-- The next row id AUTOINCREMENT would hand out (never one used before).
SELECT MAX(COALESCE((SELECT MAX(id)
    FROM tasks), 0), COALESCE((SELECT seq
    FROM sqlite_sequence
    WHERE name = 'tasks'), 0)) + 1;

-- ==========================================================================================
-- meta and tombstones

-- name: select_meta
SELECT value FROM meta WHERE key = ?;

-- name: insert_meta
INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?);

-- name: select_tombstone
SELECT expires_us FROM tombstones WHERE kind = ? AND name = ?;

-- name: upsert_tombstone
INSERT OR REPLACE INTO tombstones (kind, name, expires_us) VALUES (?, ?, ?);

-- name: prune_tombstones
DELETE FROM tombstones WHERE expires_us <= ?;

-- ==========================================================================================
-- operations, IAM policies, CMEK configs

-- name: insert_operation
INSERT INTO operations (name, method, parent, request_id, operation, created_us)
    VALUES (?, ?, ?, ?, ?, ?);

-- name: select_operation
SELECT operation FROM operations WHERE name = ?;

-- name: select_operation_by_request
SELECT operation FROM operations WHERE method = ? AND parent = ? AND request_id = ?;

-- name: list_operations
SELECT name, operation
    FROM operations
    WHERE name LIKE ? || '/%' AND name > ?
    ORDER BY name
    LIMIT ?;

-- name: delete_operation
DELETE FROM operations WHERE name = ?;

-- name: prune_operations
-- The parameter is now minus records.OPERATION_KEEP_US.
DELETE FROM operations WHERE created_us <= ?;

-- name: select_policy
SELECT policy FROM iam_policies WHERE resource = ?;

-- name: upsert_policy
INSERT OR REPLACE INTO iam_policies (resource, policy) VALUES (?, ?);

-- name: delete_policy
DELETE FROM iam_policies WHERE resource = ?;

-- name: select_cmek
SELECT config FROM cmek_configs WHERE name = ?;

-- name: upsert_cmek
INSERT OR REPLACE INTO cmek_configs (name, config) VALUES (?, ?);

-- ==========================================================================================
-- dispatcher (dispatch_records)

-- name: due_ids
SELECT id FROM tasks WHERE queue_id = ? AND schedule_us <= ? ORDER BY schedule_us, id LIMIT ?;

-- name: next_due
SELECT MIN(schedule_us) FROM tasks WHERE queue_id = ? AND schedule_us > ?;

-- name: select_for_attempt
-- dispatch_records.AttemptRow: the task columns plus history, named, task_id.
SELECT id, task, schedule_us, dispatch_count, response_count, first_attempt, last_attempt, history, named, task_id
    FROM tasks
    WHERE id = ?;

-- name: select_for_update
SELECT dispatch_count, response_count, first_attempt, history FROM tasks WHERE id = ?;

-- name: update_failed_attempt
UPDATE tasks
    SET dispatch_count = ?, response_count = ?, first_attempt = ?, last_attempt = ?, schedule_us = ?, history = ?
    WHERE id = ?;

-- name: insert_failed
INSERT INTO failed_tasks (queue, name, url, method, gave_up_us, dispatch_count, attempts, expires_us)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: list_failed
SELECT name, url, method, gave_up_us, dispatch_count, attempts
    FROM failed_tasks
    WHERE queue = ? AND expires_us > ?
    ORDER BY gave_up_us, id;

-- name: prune_failed
DELETE FROM failed_tasks WHERE expires_us <= ?;

-- name: queue_names
SELECT name FROM queues;

-- name: count_backlog
SELECT COUNT(*) FROM tasks WHERE queue_id = ?;

-- name: count_due
SELECT COUNT(*) FROM tasks WHERE queue_id = ? AND schedule_us <= ?;

-- ==========================================================================================
-- whole-database reset (dispatch_records.reset_all)

-- name: reset_all
DELETE FROM tasks;
DELETE FROM queues;
DELETE FROM tombstones;
DELETE FROM failed_tasks;
DELETE FROM operations;
DELETE FROM iam_policies;
DELETE FROM cmek_configs;

-- ==========================================================================================
-- schema migrations bookkeeping (migrations.py)

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_us  INTEGER NOT NULL
);

-- name: select_version
SELECT COALESCE(MAX(version), 0) FROM schema_migrations;

-- name: insert_version
INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?);
