-- Schema v2 (dispatcher): each task's recent attempt history (JSON, see dispatch_records) and
-- the records of tasks given up after their retries, kept for a while for `tasks failed`.
ALTER TABLE tasks ADD COLUMN history TEXT;

CREATE TABLE failed_tasks (
    id              INTEGER PRIMARY KEY,
    queue           TEXT NOT NULL,         -- full queue name
    name            TEXT NOT NULL,         -- full task name
    url             TEXT NOT NULL,
    method          TEXT NOT NULL,
    gave_up_us      INTEGER NOT NULL,
    dispatch_count  INTEGER NOT NULL,
    attempts        TEXT NOT NULL,         -- JSON list, oldest first
    expires_us      INTEGER NOT NULL
);
CREATE INDEX failed_by_queue ON failed_tasks (queue, gave_up_us);
CREATE INDEX failed_by_expiry ON failed_tasks (expires_us);
