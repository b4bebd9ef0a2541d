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
SELECT project FROM queues WHERE name = ?;

-- name: QueueDeleteUnlisted :exec
DELETE FROM queues WHERE project = @project AND name NOT IN (SELECT value FROM json_each(@keep));

-- name: QueueGet :one
SELECT name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer, batch_size, retry_base_ns
FROM queues WHERE name = ?;

-- name: QueueList :many
SELECT name, project, kind, visibility_timeout_ns, max_receives, dead_letter, fifo, consumer, batch_size, retry_base_ns
FROM queues ORDER BY name;

-- name: QueueStats :one
SELECT
    CAST(coalesce(sum(visible_at <= @now), 0) AS INTEGER) AS visible,
    CAST(coalesce(sum(visible_at > @now AND receipt <> ''), 0) AS INTEGER) AS in_flight,
    CAST(coalesce(sum(visible_at > @now AND receipt = ''), 0) AS INTEGER) AS delayed,
    min(sent_at) AS oldest_sent
FROM messages WHERE queue = @queue;

-- name: QueueNextVisible :one
SELECT min(visible_at) AS next FROM messages WHERE queue = ?;

-- name: QueueNextVisibleFIFO :one
SELECT min(m.visible_at) AS next
FROM (SELECT min(x.id) AS id FROM messages x WHERE x.queue = ? GROUP BY x.group_id) h
JOIN messages m ON m.id = h.id;

-- name: TopicPut :execrows
INSERT INTO topics (name, project) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE topics.project = excluded.project;

-- name: TopicProject :one
SELECT project FROM topics WHERE name = ?;

-- name: TopicUnsubscribe :exec
DELETE FROM topic_subscriptions WHERE topic = ?;

-- name: TopicSubscribe :exec
INSERT INTO topic_subscriptions (topic, queue) VALUES (?, ?);

-- name: TopicDeleteUnlisted :exec
DELETE FROM topics WHERE project = @project AND name NOT IN (SELECT value FROM json_each(@keep));

-- name: TopicQueues :many
SELECT queue FROM topic_subscriptions WHERE topic = ? ORDER BY queue;

-- name: TopicRows :many
SELECT t.name, t.project, coalesce(s.queue, '') AS queue
FROM topics t LEFT JOIN topic_subscriptions s ON s.topic = t.name
WHERE CAST(@only AS TEXT) = '' OR t.name = @only
ORDER BY t.name, s.queue;

-- name: ScheduleGet :one
SELECT name, project, function, spec, timezone, next_fire FROM schedules WHERE name = ?;

-- name: ScheduleInsert :exec
INSERT INTO schedules (name, project, function, spec, timezone, next_fire) VALUES (?, ?, ?, ?, ?, ?);

-- name: ScheduleSetFunction :exec
UPDATE schedules SET function = @function WHERE name = @name;

-- name: ScheduleUpdate :exec
UPDATE schedules SET function = @function, spec = @spec, timezone = @timezone, next_fire = @next_fire
WHERE name = @name;

-- name: ScheduleDeleteUnlisted :exec
DELETE FROM schedules WHERE project = @project AND name NOT IN (SELECT value FROM json_each(@keep));

-- name: ScheduleList :many
SELECT name, project, function, spec, timezone, next_fire FROM schedules ORDER BY name;

-- name: ScheduleAdvance :execrows
UPDATE schedules SET next_fire = @next WHERE name = @name AND next_fire = @expected;

-- name: DedupPrune :exec
DELETE FROM message_dedup WHERE sent_at <= ?;

-- name: DedupClaim :execrows
-- The prune before it, in the same transaction on the single writer, left
-- only ids within the window: one still there is taken.
INSERT INTO message_dedup (queue, dedup_id, message_id, sent_at) VALUES (@queue, @dedup_id, 0, @sent_at)
ON CONFLICT (queue, dedup_id) DO NOTHING;

-- name: DedupLookup :one
SELECT message_id FROM message_dedup WHERE queue = ? AND dedup_id = ?;

-- name: DedupSetMessage :exec
UPDATE message_dedup SET message_id = @message_id WHERE queue = @queue AND dedup_id = @dedup_id;

-- name: MessagePeek :many
SELECT id, queue, body, attributes, group_id, dedup_id, sent_at, visible_at, receive_count, receipt, last_error
FROM messages WHERE queue = ? ORDER BY id LIMIT ?;

-- name: MessageRedriveTo :execrows
UPDATE messages SET queue = @to, receive_count = 0, visible_at = @now, receipt = '', last_error = ''
WHERE id IN (SELECT x.id FROM messages x WHERE x.queue = @from ORDER BY x.id LIMIT @lim);

-- name: MessageRedriveBack :execrows
UPDATE messages SET queue = json_extract(attributes, '$.source_queue'),
    receive_count = 0, visible_at = @now, receipt = '', last_error = ''
WHERE id IN (SELECT x.id FROM messages x WHERE x.queue = @from
    AND json_extract(x.attributes, '$.source_queue') IN (SELECT name FROM queues) ORDER BY x.id LIMIT @lim);

-- name: MessageDeleteExhausted :exec
DELETE FROM messages
WHERE messages.queue = @queue AND receive_count > 0 AND visible_at <= @now AND receive_count >= @max_receives;

-- name: MessageDeadLetterExhausted :exec
UPDATE messages SET queue = @dead_letter, receive_count = 0, visible_at = @now, receipt = '',
    attributes = json_set(attributes, '$.error', last_error, '$.attempts', CAST(receive_count AS TEXT), '$.source_queue', queue)
WHERE messages.queue = @queue AND receive_count > 0 AND visible_at <= @now AND receive_count >= @max_receives;

-- name: MessageClaim :many
UPDATE messages SET receive_count = receive_count + 1, receipt = CAST(@token AS TEXT) || messages.id, visible_at = @until
WHERE id IN (SELECT x.id FROM messages x WHERE x.queue = @queue AND x.visible_at <= @now ORDER BY x.visible_at, x.id LIMIT @max)
RETURNING id, queue, body, attributes, group_id, dedup_id, sent_at, visible_at, receive_count, receipt, last_error;

-- name: MessageClaimFIFO :many
UPDATE messages SET receive_count = receive_count + 1, receipt = CAST(@token AS TEXT) || messages.id, visible_at = @until
WHERE id IN (SELECT m.id FROM messages m WHERE m.queue = @queue AND m.visible_at <= @now
    AND m.id = (SELECT min(g.id) FROM messages g WHERE g.queue = m.queue AND g.group_id = m.group_id)
    ORDER BY m.visible_at, m.id LIMIT @max)
RETURNING id, queue, body, attributes, group_id, dedup_id, sent_at, visible_at, receive_count, receipt, last_error;

-- name: MessageReturn :exec
UPDATE messages SET receipt = '', visible_at = @visible_at, receive_count = MAX(receive_count - 1, 0)
WHERE id = @id AND receipt = @receipt AND queue = @queue;
