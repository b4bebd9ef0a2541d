-- The console's charts group usage records of a time range by function,
-- outcome and duration (store.UsageSeries). Records are inserted in the
-- order invocations end, so one range's rows are spread over the table:
-- this index holds every column the grouping reads, in start order, so
-- the range is one sequential index scan without a table lookup per row.
CREATE INDEX usage_series ON usage (start_at, function, outcome, duration_ns, cold, billed_ms, memory_mb);
