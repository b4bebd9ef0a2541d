-- 0016: cluster membership (store.Nodes). One row per node id: where the
-- node is reached, its state (joining, serving, draining, gone), the
-- version of its binary, its load (invocations in flight) and when it
-- last heartbeat. A node that stops heartbeating is marked gone by the
-- others after the lease; gone rows are forgotten after a day.
CREATE TABLE nodes (
    id           TEXT    NOT NULL PRIMARY KEY,
    addr         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    load         INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
