-- 0010 (issue 11): a log line's severity, so `strata logs --level` can
-- filter (record.LogLevel: 1 debug, 2 info, 3 warn, 4 error). Lines
-- written before this were not classified; they count as info.
ALTER TABLE logs ADD COLUMN level smallint NOT NULL DEFAULT 2;
