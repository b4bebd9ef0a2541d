-- The console's charts group usage records of a time range by function,
-- outcome and duration (store.UsageSeries): an index of every column the
-- grouping reads, in start order, serves the range with an index-only
-- scan instead of a heap fetch per row.
CREATE INDEX usage_series ON usage (start_at, function, outcome, duration_ns, cold, billed_ms, memory_mb);
