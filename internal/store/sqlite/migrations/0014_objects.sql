-- 0014: durable objects (store.Objects) and the routes that reach them.
--
-- object_entries holds each object's storage, one row per key, clustered
-- by object so that a listing is one range of the primary key. Keys are
-- BLOBs: a key is any byte string, and BLOBs compare with memcmp, as bytea
-- does on PostgreSQL, so both backends order keys alike.
CREATE TABLE object_entries (
    project   TEXT NOT NULL,
    class     TEXT NOT NULL,
    object_id TEXT NOT NULL,
    key       BLOB NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (project, class, object_id, key)
) WITHOUT ROWID;

-- object_info is one row per object ever written: what listing and limits
-- read without touching the entries, and the object's alarm. alarm_at is
-- the time the object set (NULL: no alarm), alarm_next_at when it runs
-- next (later than alarm_at after failed runs).
CREATE TABLE object_info (
    project        TEXT    NOT NULL,
    class          TEXT    NOT NULL,
    object_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    bytes          INTEGER NOT NULL,
    keys           INTEGER NOT NULL,
    alarm_at       INTEGER,
    alarm_next_at  INTEGER,
    alarm_attempts INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (project, class, object_id)
);
-- The alarm poller reads the earliest due alarms: only objects with an
-- alarm are in the index, so it stays small however many objects exist.
CREATE INDEX object_info_alarm ON object_info (alarm_next_at) WHERE alarm_next_at IS NOT NULL;

-- object_leases fences the object's writers. A row outlives the object's
-- deletion (ObjectDelete bumps its token) so that tokens only grow.
CREATE TABLE object_leases (
    project    TEXT    NOT NULL,
    class      TEXT    NOT NULL,
    object_id  TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    token      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (project, class, object_id)
);

ALTER TABLE routes ADD COLUMN object       TEXT    NOT NULL DEFAULT '';
ALTER TABLE routes ADD COLUMN object_param TEXT    NOT NULL DEFAULT '';
ALTER TABLE routes ADD COLUMN websocket    INTEGER NOT NULL DEFAULT 0;
