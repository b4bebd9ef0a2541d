-- 0014: durable objects (store.Objects) and the routes that reach them.
--
-- object_entries holds each object's storage, one row per key, clustered
-- by object so that a listing is one range of the primary key. Keys are
-- bytea: a key is any byte string (text holds neither NUL nor invalid
-- UTF-8), and bytea compares bytewise, as SQLite's BLOBs do, so both
-- backends order keys alike whatever the database's collation.
CREATE TABLE object_entries (
    project   text  NOT NULL,
    class     text  NOT NULL,
    object_id text  NOT NULL,
    key       bytea NOT NULL,
    value     bytea NOT NULL,
    PRIMARY KEY (project, class, object_id, key)
);

-- object_info is one row per object ever written: what listing and limits
-- read without touching the entries, and the object's alarm. alarm_at is
-- the time the object set (NULL: no alarm), alarm_next_at when it runs
-- next (later than alarm_at after failed runs). class and object_id are
-- COLLATE "C" so that ObjectsList pages in byte order, as on SQLite.
CREATE TABLE object_info (
    project        text        NOT NULL,
    class          text        COLLATE "C" NOT NULL,
    object_id      text        COLLATE "C" NOT NULL,
    name           text        NOT NULL,
    bytes          bigint      NOT NULL,
    keys           bigint      NOT NULL,
    alarm_at       timestamptz,
    alarm_next_at  timestamptz,
    alarm_attempts integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (project, class, object_id)
);
-- The alarm poller reads the earliest due alarms: only objects with an
-- alarm are in the index, so it stays small however many objects exist.
CREATE INDEX object_info_alarm ON object_info (alarm_next_at) WHERE alarm_next_at IS NOT NULL;

-- object_leases fences the object's writers. A row outlives the object's
-- deletion (ObjectDelete bumps its token) so that tokens only grow.
CREATE TABLE object_leases (
    project    text        NOT NULL,
    class      text        NOT NULL,
    object_id  text        NOT NULL,
    owner      text        NOT NULL,
    token      bigint      NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (project, class, object_id)
);

ALTER TABLE routes ADD COLUMN object       text    NOT NULL DEFAULT '';
ALTER TABLE routes ADD COLUMN object_param text    NOT NULL DEFAULT '';
ALTER TABLE routes ADD COLUMN websocket    boolean NOT NULL DEFAULT false;
