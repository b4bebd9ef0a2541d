-- The built-in trace store. TraceList is written by hand in traces.go
-- (optional filters).

-- SpanInsert stores a batch with one INSERT over unnest()ed column arrays
-- (as UsageInsert); attributes and events arrive as JSON text.
-- name: SpanInsert :exec
INSERT INTO spans (trace_id, span_id, parent_id, project, function, name, kind, start_at,
    duration_ns, status, status_message, attributes, events)
SELECT unnest(@trace_id::text[]), unnest(@span_id::text[]), unnest(@parent_id::text[]),
    unnest(@project::text[]), unnest(@function::text[]), unnest(@name::text[]), unnest(@kind::text[]),
    unnest(@start_at::timestamptz[]), unnest(@duration_ns::int8[]), unnest(@status::text[]),
    unnest(@status_message::text[]), unnest(@attributes::text[])::jsonb, unnest(@events::text[])::jsonb
ON CONFLICT (trace_id, span_id) DO NOTHING;

-- name: SpanHeads :many
SELECT trace_id, span_id, parent_id, project, function, name, start_at, duration_ns, status
FROM spans WHERE trace_id = ANY(@trace_ids::text[]);

-- name: TraceSummaryDelete :exec
DELETE FROM traces WHERE trace_id = ANY(@trace_ids::text[]);

-- name: TraceProjectsDelete :exec
DELETE FROM trace_projects WHERE trace_id = ANY(@trace_ids::text[]);

-- name: TraceSummaryInsert :exec
INSERT INTO traces (trace_id, name, project, function, start_at, duration_ns, spans, errors, functions)
SELECT unnest(@trace_id::text[]), unnest(@name::text[]), unnest(@project::text[]),
    unnest(@function::text[]), unnest(@start_at::timestamptz[]), unnest(@duration_ns::int8[]),
    unnest(@spans::int4[]), unnest(@errors::int4[]), unnest(@functions::text[]);

-- name: TraceProjectsInsert :exec
INSERT INTO trace_projects (trace_id, project, name, function, start_at, duration_ns, spans, errors, functions)
SELECT unnest(@trace_id::text[]), unnest(@project::text[]), unnest(@name::text[]),
    unnest(@function::text[]), unnest(@start_at::timestamptz[]), unnest(@duration_ns::int8[]),
    unnest(@spans::int4[]), unnest(@errors::int4[]), unnest(@functions::text[]);

-- TraceGet reads the trace by its primary key's prefix; the project test
-- is on those rows only.
-- name: TraceGet :many
SELECT * FROM spans WHERE trace_id = @trace_id AND (@project::text = '' OR project = @project)
ORDER BY start_at, span_id COLLATE "C";

-- name: SpanCount :one
SELECT count(*) FROM spans;

-- name: SpanDeleteOldest :many
DELETE FROM spans WHERE ctid = ANY(ARRAY(
    SELECT old.ctid FROM spans old WHERE old.start_at < @before ORDER BY old.start_at LIMIT @max_spans
)) RETURNING trace_id;
