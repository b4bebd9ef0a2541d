-- Stock per SKU, and one row per reservation a workflow step made. The
-- reservation's key is the step's idempotency key ("<execution>/<step>"),
-- so a retried reserve-stock finds its own row and does not reserve twice.
CREATE TABLE stock (
    sku TEXT    PRIMARY KEY,
    qty INTEGER NOT NULL CHECK (qty >= 0)
);

CREATE TABLE reservations (
    key       TEXT    PRIMARY KEY,
    execution TEXT    NOT NULL,
    sku       TEXT    NOT NULL REFERENCES stock (sku),
    qty       INTEGER NOT NULL CHECK (qty > 0),
    released  INTEGER NOT NULL DEFAULT 0 CHECK (released IN (0, 1))
);
CREATE INDEX reservations_execution ON reservations (execution);

INSERT INTO stock (sku, qty) VALUES ('widget', 100), ('gadget', 10), ('gizmo', 0);
