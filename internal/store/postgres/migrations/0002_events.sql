-- 0002: event-driven functions: route options, queues, topics, schedules and
-- messages.

-- Defaults make the routes of earlier deploys synchronous and unlimited.
ALTER TABLE routes
    ADD COLUMN async      boolean          NOT NULL DEFAULT false,
    ADD COLUMN rate_limit double precision NOT NULL DEFAULT 0,
    ADD COLUMN rate_burst integer          NOT NULL DEFAULT 0;

-- Queue names are unique across projects. dead_letter and consumer are
-- checked by the deploy rather than by foreign keys: a queue and its
-- dead-letter queue are replaced together.
CREATE TABLE queues (
    name                  text    PRIMARY KEY,
    project               text    NOT NULL,
    kind                  text    NOT NULL,
    visibility_timeout_ns bigint  NOT NULL,
    max_receives          integer NOT NULL,
    dead_letter           text    NOT NULL,
    fifo                  boolean NOT NULL,
    consumer              text    NOT NULL,
    batch_size            integer NOT NULL,
    retry_base_ns         bigint  NOT NULL
);
CREATE INDEX queues_project ON queues (project);

CREATE TABLE topics (
    name    text PRIMARY KEY,
    project text NOT NULL
);
CREATE INDEX topics_project ON topics (project);

CREATE TABLE topic_subscriptions (
    topic text NOT NULL REFERENCES topics (name) ON DELETE CASCADE,
    queue text NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    PRIMARY KEY (topic, queue)
);
CREATE INDEX topic_subscriptions_queue ON topic_subscriptions (queue);

CREATE TABLE schedules (
    name      text        PRIMARY KEY,
    project   text        NOT NULL,
    function  text        NOT NULL,
    spec      text        NOT NULL,
    timezone  text        NOT NULL,
    next_fire timestamptz NOT NULL
);
CREATE INDEX schedules_project ON schedules (project);

-- Messages. A message is visible when visible_at <= now; received messages
-- carry a receipt until they are acked (deleted), failed (receipt cleared) or
-- received again (new receipt). Deleting a queue deletes its messages.
-- Receivers on several nodes claim rows with FOR UPDATE SKIP LOCKED.
CREATE SEQUENCE messages_id_seq AS bigint;
CREATE TABLE messages (
    id            bigint      PRIMARY KEY DEFAULT nextval('messages_id_seq'),
    queue         text        NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    body          bytea       NOT NULL,
    attributes    jsonb       NOT NULL, -- object of strings
    group_id      text        NOT NULL,
    dedup_id      text        NOT NULL,
    sent_at       timestamptz NOT NULL,
    visible_at    timestamptz NOT NULL,
    receive_count integer     NOT NULL,
    receipt       text        NOT NULL,
    last_error    text        NOT NULL
);
ALTER SEQUENCE messages_id_seq OWNED BY messages.id;
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
    queue      text        NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    dedup_id   text        NOT NULL,
    message_id bigint      NOT NULL,
    sent_at    timestamptz NOT NULL,
    PRIMARY KEY (queue, dedup_id)
);
CREATE INDEX message_dedup_sent_at ON message_dedup (sent_at);
