-- The built-in trace store. SpanInsert, the summary inserts and TraceList
-- are written by hand in traces.go (multi-row VALUES, optional filters).

-- name: SpanHeads :many
SELECT trace_id, span_id, parent_id, project, function, name, start_at, duration_ns, status
FROM spans WHERE trace_id IN (sqlc.slice('trace_ids'));

-- name: TraceSummaryDelete :exec
DELETE FROM traces WHERE trace_id IN (sqlc.slice('trace_ids'));

-- name: TraceProjectsDelete :exec
DELETE FROM trace_projects WHERE trace_id IN (sqlc.slice('trace_ids'));

-- TraceGet reads the trace by its primary key's prefix; the project test
-- is on those rows only.
-- name: TraceGet :many
SELECT * FROM spans WHERE trace_id = @trace_id AND (@project = '' OR project = @project)
ORDER BY start_at, span_id;

-- name: SpanCount :one
SELECT count(*) FROM spans;

-- name: SpanDeleteOldest :many
DELETE FROM spans WHERE rowid IN (
    SELECT old.rowid FROM spans old WHERE old.start_at < @before ORDER BY old.start_at LIMIT @max_spans
) RETURNING trace_id;
