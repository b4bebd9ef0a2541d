-- 0002: event-driven functions: route options, queues, topics, schedules and
-- messages. Times are INTEGER microseconds, durations INTEGER nanoseconds, as
-- in 0001.

-- Defaults make the routes of earlier deploys synchronous and unlimited.
ALTER TABLE routes ADD COLUMN async      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE routes ADD COLUMN rate_limit REAL    NOT NULL DEFAULT 0;
ALTER TABLE routes ADD COLUMN rate_burst INTEGER NOT NULL DEFAULT 0;

-- Queue names are unique across projects. dead_letter and consumer are
-- checked by the deploy rather than by foreign keys: a queue and its
-- dead-letter queue are replaced together.
CREATE TABLE queues (
    name                  TEXT    PRIMARY KEY,
    project               TEXT    NOT NULL,
    kind                  TEXT    NOT NULL,
    visibility_timeout_ns INTEGER NOT NULL,
    max_receives          INTEGER NOT NULL,
    dead_letter           TEXT    NOT NULL,
    fifo                  INTEGER NOT NULL,
    consumer              TEXT    NOT NULL,
    batch_size            INTEGER NOT NULL,
    retry_base_ns         INTEGER NOT NULL
);
CREATE INDEX queues_project ON queues (project);

CREATE TABLE topics (
    name    TEXT PRIMARY KEY,
    project TEXT NOT NULL
);
CREATE INDEX topics_project ON topics (project);

CREATE TABLE topic_subscriptions (
    topic TEXT NOT NULL REFERENCES topics (name) ON DELETE CASCADE,
    queue TEXT NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    PRIMARY KEY (topic, queue)
);
CREATE INDEX topic_subscriptions_queue ON topic_subscriptions (queue);

CREATE TABLE schedules (
    name      TEXT    PRIMARY KEY,
    project   TEXT    NOT NULL,
    function  TEXT    NOT NULL,
    spec      TEXT    NOT NULL,
    timezone  TEXT    NOT NULL,
    next_fire INTEGER NOT NULL
);
CREATE INDEX schedules_project ON schedules (project);

-- Messages. AUTOINCREMENT: IDs are never reused, so an ID remembered by a
-- deduplication entry or a consumer never names a later message. A message
-- is visible when visible_at <= now; received messages carry a receipt until
-- they are acked (deleted), failed (receipt cleared) or received again (new
-- receipt). Deleting a queue deletes its messages.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    body          BLOB    NOT NULL,
    attributes    TEXT    NOT NULL, -- JSON object of strings
    group_id      TEXT    NOT NULL,
    dedup_id      TEXT    NOT NULL,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    receipt       TEXT    NOT NULL,
    last_error    TEXT    NOT NULL
);
-- Receive: the visible messages of a queue in the order they became visible.
CREATE INDEX messages_queue_visible ON messages (queue, visible_at, id);
-- FIFO: the oldest message of each group.
CREATE INDEX messages_queue_group ON messages (queue, group_id, id);
-- Messages received at least once and not acked: the few that may have to
-- move to a dead-letter queue when they become visible again.
CREATE INDEX messages_received ON messages (queue, visible_at) WHERE receive_count > 0;

-- Deduplication ids, kept for store.DedupWindow after the send even when the
-- message is long acked (as SQS does); expired entries are pruned by sends.
CREATE TABLE message_dedup (
    queue      TEXT    NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    dedup_id   TEXT    NOT NULL,
    message_id INTEGER NOT NULL,
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
CREATE INDEX message_dedup_sent_at ON message_dedup (sent_at);
