-- name: QueuePut :execrows
INSERT INTO queues (name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer,
    batch_size, retry_base_ns)
VALUES (@name, @project, @kind, @visibility_timeout_ns, @max_receives, @dead_letter, @fifo, @consumer,
    @batch_size, @retry_base_ns)
ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, visibility_timeout_ns = excluded.visibility_timeout_ns,
    max_receives = excluded.max_receives, dead_letter = excluded.dead_letter, fifo = excluded.fifo,
    consumer = excluded.consumer, batch_size = excluded.batch_size, retry_base_ns = excluded.retry_base_ns
WHERE queues.project = excluded.project;

-- name: QueueProject :one
SELECT project FROM queues WHERE name = $1;

-- name: QueueKeep :one
SELECT project FROM queues WHERE name = $1 FOR KEY SHARE;

-- name: QueueDeleteUnlisted :exec
DELETE FROM queues WHERE project = @project AND NOT (name = ANY(@keep::text[]));

-- name: QueueGet :one
SELECT name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer, batch_size, retry_base_ns
FROM queues WHERE name = $1;

-- name: QueueList :many
SELECT name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer, batch_size, retry_base_ns
FROM queues ORDER BY name COLLATE "C";

-- name: QueueStats :one
SELECT
    count(*) FILTER (WHERE visible_at <= @now) AS visible,
    count(*) FILTER (WHERE visible_at > @now AND receipt <> '') AS in_flight,
    count(*) FILTER (WHERE visible_at > @now AND receipt = '') AS delayed,
    min(sent_at) AS oldest_sent
FROM messages WHERE queue = @queue;

-- name: QueueNextVisible :one
SELECT min(visible_at) AS next FROM messages WHERE queue = $1;

-- name: QueueNextVisibleFIFO :one
SELECT min(m.visible_at) AS next
FROM (SELECT min(x.id) AS id FROM messages x WHERE x.queue = $1 GROUP BY x.group_id) h
JOIN messages m ON m.id = h.id;

-- name: TopicPut :execrows
INSERT INTO topics (name, project) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE topics.project = excluded.project;

-- name: TopicProject :one
SELECT project FROM topics WHERE name = $1;

-- name: TopicKeep :one
SELECT project FROM topics WHERE name = $1 FOR KEY SHARE;

-- name: TopicUnsubscribe :exec
DELETE FROM topic_subscriptions WHERE topic = $1;

-- name: TopicSubscribe :exec
INSERT INTO topic_subscriptions (topic, queue) SELECT @topic, unnest(@queues::text[]);

-- name: TopicDeleteUnlisted :exec
DELETE FROM topics WHERE project = @project AND NOT (name = ANY(@keep::text[]));

-- name: TopicQueues :many
SELECT queue FROM topic_subscriptions WHERE topic = $1 ORDER BY queue COLLATE "C";

-- name: TopicRows :many
SELECT t.name, t.project, coalesce(s.queue, '')::text AS queue
FROM topics t LEFT JOIN topic_subscriptions s ON s.topic = t.name
WHERE sqlc.arg(only_name)::text = '' OR t.name = sqlc.arg(only_name)
ORDER BY t.name COLLATE "C", s.queue COLLATE "C";

-- name: ScheduleGet :one
SELECT name, project, function, spec, timezone, next_fire FROM schedules WHERE name = $1;

-- name: ScheduleInsert :exec
INSERT INTO schedules (name, project, function, spec, timezone, next_fire) VALUES ($1, $2, $3, $4, $5, $6);

-- name: ScheduleSetFunction :exec
UPDATE schedules SET function = @function WHERE name = @name;

-- name: ScheduleUpdate :exec
UPDATE schedules SET function = @function, spec = @spec, timezone = @timezone, next_fire = @next_fire
WHERE name = @name;

-- name: ScheduleDeleteUnlisted :exec
DELETE FROM schedules WHERE project = @project AND NOT (name = ANY(@keep::text[]));

-- name: ScheduleList :many
SELECT name, project, function, spec, timezone, next_fire FROM schedules ORDER BY name COLLATE "C";

-- name: ScheduleAdvance :execrows
UPDATE schedules SET next_fire = @next WHERE name = @name AND next_fire = @expected;

-- name: MessageInsert :many
-- Rows come out of the select-list unnest calls in array order and take
-- their IDs from the sequence in that order.
INSERT INTO messages (queue, body, attributes, group_id, dedup_id, sent_at, visible_at,
    receive_count, receipt, last_error)
SELECT unnest(@queues::text[]), unnest(@bodies::bytea[]), unnest(@attributes::text[])::jsonb,
    unnest(@group_ids::text[]), unnest(@dedup_ids::text[]), @sent_at::timestamptz,
    unnest(@visible_at::timestamptz[]), 0, '', ''
RETURNING id;

-- name: DedupPrune :exec
DELETE FROM message_dedup WHERE sent_at <= $1;

-- name: DedupClaim :many
-- Two transactions claiming one id: the second waits for the first's row
-- lock, then finds the id taken.
INSERT INTO message_dedup (queue, dedup_id, message_id, sent_at)
SELECT unnest(@queues::text[]), unnest(@dedup_ids::text[]), 0, @sent_at::timestamptz
ON CONFLICT (queue, dedup_id) DO UPDATE SET message_id = excluded.message_id, sent_at = excluded.sent_at
    WHERE message_dedup.sent_at <= @cutoff::timestamptz
RETURNING queue, dedup_id;

-- name: DedupLookup :many
SELECT d.queue, d.dedup_id, d.message_id FROM message_dedup d
JOIN (SELECT unnest(@queues::text[]) AS queue, unnest(@dedup_ids::text[]) AS dedup_id) u
    ON d.queue = u.queue AND d.dedup_id = u.dedup_id;

-- name: DedupSetMessage :exec
UPDATE message_dedup d SET message_id = u.id
FROM (SELECT unnest(@queues::text[]) AS queue, unnest(@dedup_ids::text[]) AS dedup_id,
    unnest(@ids::bigint[]) AS id) u
WHERE d.queue = u.queue AND d.dedup_id = u.dedup_id;

-- name: MessageAck :execrows
DELETE FROM messages m
USING (SELECT unnest(@ids::bigint[]) AS id, unnest(@receipts::text[]) AS receipt) a
WHERE m.id = a.id AND m.receipt = a.receipt AND m.queue = @queue;

-- name: MessagePeek :many
SELECT id, queue, body, attributes::text AS attributes, group_id, dedup_id, sent_at, visible_at,
    receive_count, receipt, last_error
FROM messages WHERE queue = $1 ORDER BY id LIMIT $2;

-- name: MessageRedriveTo :execrows
UPDATE messages SET queue = sqlc.arg(to_queue), receive_count = 0, visible_at = @now, receipt = '', last_error = ''
WHERE id IN (SELECT x.id FROM messages x WHERE x.queue = sqlc.arg(from_queue) ORDER BY x.id LIMIT NULLIF(@lim::bigint, 0)
    FOR UPDATE SKIP LOCKED);

-- name: MessageRedriveBack :execrows
UPDATE messages SET queue = attributes->>'source_queue', receive_count = 0, visible_at = @now,
    receipt = '', last_error = ''
WHERE id IN (SELECT x.id FROM messages x WHERE x.queue = sqlc.arg(from_queue)
    AND x.attributes->>'source_queue' IN (SELECT name FROM queues)
    ORDER BY x.id LIMIT NULLIF(@lim::bigint, 0) FOR UPDATE SKIP LOCKED);
