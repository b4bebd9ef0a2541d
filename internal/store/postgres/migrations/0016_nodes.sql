-- 0016: cluster membership (store.Nodes). One row per node id: where the
-- node is reached, its state (joining, serving, draining, gone), the
-- version of its binary, its load (invocations in flight) and when it
-- last heartbeat. A node that stops heartbeating is marked gone by the
-- others after the lease; gone rows are forgotten after a day.
CREATE TABLE nodes (
    id           text        NOT NULL PRIMARY KEY,
    addr         text        NOT NULL,
    state        text        NOT NULL,
    version      text        NOT NULL,
    load         bigint      NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
