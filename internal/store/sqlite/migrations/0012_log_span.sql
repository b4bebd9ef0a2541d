-- 0012 (issue 12): the span a log line was written in (the invocation's
-- span, 16 hex; '' for lines from before), so a line links to its span in
-- a trace; and an index to list a trace's lines (`strata logs --trace`).
ALTER TABLE logs ADD COLUMN span_id TEXT NOT NULL DEFAULT '';
CREATE INDEX logs_trace ON logs (trace_id, id);
