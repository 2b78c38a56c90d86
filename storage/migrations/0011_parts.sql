-- Spare parts (docs/parts.md, service rules section 7): catalogue, warehouses, stock, an
-- append-only in/out ledger, requisitions with their history, transfers, serial numbers.
--
-- The count cannot drift from the ledger: part_stock.on_hand is written only by the ledger's
-- trigger (a direct write is refused), the ledger refuses UPDATE, DELETE and TRUNCATE, and
-- on_hand >= 0 is a CHECK, so of two concurrent issues of the last unit the second waits on
-- the stock row's lock, re-reads 0 and fails: never negative stock.

CREATE TABLE warehouses (
    id      serial PRIMARY KEY,
    code    text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name    text NOT NULL,
    city    text
);

CREATE TABLE part_catalogue (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    -- numeric accepts 'NaN', which compares greater than every number: refused by name.
    unit_price  numeric(12, 2) NOT NULL CHECK (unit_price >= 0 AND unit_price <> 'NaN'),
    -- Tracked one by one (motors, drives, encoders); consumables are counted only.
    serialised  boolean NOT NULL DEFAULT false,
    -- Section 7: genuine or certified parts only; nothing else can be catalogued.
    origin      text NOT NULL CHECK (origin IN ('genuine', 'certified')),
    created_at  timestamptz NOT NULL
);

CREATE TABLE part_stock (
    part_id       integer NOT NULL REFERENCES part_catalogue (id),
    warehouse_id  integer NOT NULL REFERENCES warehouses (id),
    on_hand       integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    safety_stock  integer NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    PRIMARY KEY (part_id, warehouse_id)
);

CREATE TABLE part_transfers (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL,
    part_id         integer NOT NULL REFERENCES part_catalogue (id),
    from_warehouse  integer NOT NULL REFERENCES warehouses (id),
    to_warehouse    integer NOT NULL REFERENCES warehouses (id),
    quantity        integer NOT NULL CHECK (quantity > 0),
    emergency       boolean NOT NULL,
    reason          text NOT NULL CHECK (btrim(reason) <> ''),
    actor           text NOT NULL,
    CHECK (from_warehouse <> to_warehouse)
);

CREATE TABLE part_requisitions (
    id            bigserial PRIMARY KEY,
    part_id       integer NOT NULL REFERENCES part_catalogue (id),
    warehouse_id  integer NOT NULL REFERENCES warehouses (id),
    quantity      integer NOT NULL CHECK (quantity > 0),
    purpose       text NOT NULL CHECK (btrim(purpose) <> ''),
    -- A ticket's robot and customer, or a work order's robot and its customer: both are
    -- looked up from the robot by the insert, never given by the caller.
    robot_id      integer NOT NULL REFERENCES robots (id),
    customer_id   integer NOT NULL REFERENCES customers (id),
    ticket_id     bigint REFERENCES tickets (id),
    work_order    text CHECK (work_order ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    state         text NOT NULL DEFAULT 'requested' CHECK (state IN ('requested', 'approved',
                      'rejected', 'cancelled', 'issued', 'closed')),
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL,
    -- Decided when requested (parts.warranty), kept with the end date it was decided on.
    in_warranty   boolean NOT NULL,
    warranty_end  date,
    -- Copied from the catalogue by the issue statement itself.
    unit_price    numeric(12, 2),
    issued_qty    integer NOT NULL DEFAULT 0 CHECK (issued_qty >= 0),
    returned_qty  integer NOT NULL DEFAULT 0 CHECK (returned_qty >= 0),
    -- Computed, never typed: free in warranty, else the catalogue price of what was kept.
    charge        numeric(12, 2) GENERATED ALWAYS AS (
                      CASE WHEN in_warranty THEN 0
                           ELSE coalesce(unit_price, 0) * (issued_qty - returned_qty) END
                  ) STORED,
    version       integer NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL,
    CHECK (ticket_id IS NOT NULL OR work_order IS NOT NULL),
    CHECK (returned_qty <= issued_qty AND issued_qty <= quantity),
    CHECK ((state IN ('issued', 'closed')) = (unit_price IS NOT NULL))
);
CREATE INDEX part_requisitions_ticket_idx ON part_requisitions (ticket_id);
CREATE INDEX part_requisitions_work_order_idx ON part_requisitions (work_order);
CREATE INDEX part_requisitions_customer_idx ON part_requisitions (customer_id, id);
-- What approved requisitions hold back: read under the stock row's lock.
CREATE INDEX part_requisitions_reserved_idx ON part_requisitions (part_id, warehouse_id)
    WHERE state = 'approved';

CREATE TABLE part_requisition_events (
    id              bigserial PRIMARY KEY,
    requisition_id  bigint NOT NULL REFERENCES part_requisitions (id),
    at              timestamptz NOT NULL,
    event           text NOT NULL,
    actor           text NOT NULL,
    from_state      text,
    to_state        text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX part_requisition_events_idx ON part_requisition_events (requisition_id, id);

CREATE TABLE part_ledger (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL,
    part_id         integer NOT NULL REFERENCES part_catalogue (id),
    warehouse_id    integer NOT NULL REFERENCES warehouses (id),
    quantity        integer NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('receipt', 'issue', 'return', 'transfer_in',
                        'transfer_out', 'scrap')),
    requisition_id  bigint REFERENCES part_requisitions (id),
    transfer_id     bigint REFERENCES part_transfers (id),
    serials         text[] NOT NULL DEFAULT '{}',
    actor           text NOT NULL,
    note            text,
    -- In or out by kind: a receipt can never take stock away, an issue never adds.
    CHECK (CASE WHEN kind IN ('receipt', 'return', 'transfer_in') THEN quantity > 0
                ELSE quantity < 0 END),
    CHECK ((kind IN ('issue', 'return')) = (requisition_id IS NOT NULL)),
    CHECK ((kind IN ('transfer_in', 'transfer_out')) = (transfer_id IS NOT NULL)),
    CHECK (cardinality(serials) = 0 OR cardinality(serials) = abs(quantity))
);
CREATE INDEX part_ledger_stock_idx ON part_ledger (part_id, warehouse_id, id);

-- Low-stock warnings: one open row per stock row while on_hand < safety_stock.
CREATE TABLE part_stock_warnings (
    id            bigserial PRIMARY KEY,
    part_id       integer NOT NULL REFERENCES part_catalogue (id),
    warehouse_id  integer NOT NULL REFERENCES warehouses (id),
    raised_at     timestamptz NOT NULL,
    on_hand       integer NOT NULL,
    safety_stock  integer NOT NULL,
    cleared_at    timestamptz
);
CREATE UNIQUE INDEX part_stock_warnings_open_idx ON part_stock_warnings (part_id, warehouse_id)
    WHERE cleared_at IS NULL;

CREATE TABLE part_serials (
    id              bigserial PRIMARY KEY,
    part_id         integer NOT NULL REFERENCES part_catalogue (id),
    serial          text NOT NULL CHECK (serial ~ '^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$'),
    state           text NOT NULL CHECK (state IN ('purchased', 'in_stock', 'issued',
                        'installed', 'removed', 'scrapped')),
    warehouse_id    integer REFERENCES warehouses (id),
    robot_id        integer REFERENCES robots (id),
    requisition_id  bigint REFERENCES part_requisitions (id),
    UNIQUE (part_id, serial),
    CHECK ((state = 'in_stock') = (warehouse_id IS NOT NULL)),
    CHECK ((state = 'installed') = (robot_id IS NOT NULL))
);

CREATE TABLE part_serial_events (
    id              bigserial PRIMARY KEY,
    serial_id       bigint NOT NULL REFERENCES part_serials (id),
    at              timestamptz NOT NULL,
    event           text NOT NULL,
    actor           text NOT NULL,
    from_state      text,
    to_state        text NOT NULL,
    warehouse_id    integer REFERENCES warehouses (id),
    robot_id        integer REFERENCES robots (id),
    requisition_id  bigint REFERENCES part_requisitions (id),
    data            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX part_serial_events_idx ON part_serial_events (serial_id, id);

-- Raise or clear the low-stock warning of one stock row, as of ``at``.
CREATE FUNCTION parts_check_low(p_part integer, p_warehouse integer, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s part_stock%ROWTYPE;
BEGIN
    SELECT * INTO s FROM part_stock WHERE part_id = p_part AND warehouse_id = p_warehouse;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.on_hand < s.safety_stock THEN
        INSERT INTO part_stock_warnings (part_id, warehouse_id, raised_at, on_hand, safety_stock)
        VALUES (p_part, p_warehouse, p_at, s.on_hand, s.safety_stock)
        ON CONFLICT (part_id, warehouse_id) WHERE cleared_at IS NULL DO NOTHING;
    ELSE
        UPDATE part_stock_warnings SET cleared_at = p_at
         WHERE part_id = p_part AND warehouse_id = p_warehouse AND cleared_at IS NULL;
    END IF;
END $$;

-- Every ledger row moves the count, in the same statement. UPDATE first: an INSERT's CHECK
-- is tested on the proposed row before ON CONFLICT, so an outgoing move must not start there.
CREATE FUNCTION parts_ledger_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE part_stock SET on_hand = on_hand + NEW.quantity
     WHERE part_id = NEW.part_id AND warehouse_id = NEW.warehouse_id;
    IF NOT FOUND THEN
        INSERT INTO part_stock AS s (part_id, warehouse_id, on_hand)
        VALUES (NEW.part_id, NEW.warehouse_id, NEW.quantity)
        ON CONFLICT (part_id, warehouse_id) DO UPDATE SET on_hand = s.on_hand + EXCLUDED.on_hand;
    END IF;
    PERFORM parts_check_low(NEW.part_id, NEW.warehouse_id, NEW.at);
    RETURN NULL;
END $$;
CREATE TRIGGER part_ledger_apply AFTER INSERT ON part_ledger
    FOR EACH ROW EXECUTE FUNCTION parts_ledger_apply();

CREATE FUNCTION parts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER part_ledger_append_only BEFORE UPDATE OR DELETE ON part_ledger
    FOR EACH ROW EXECUTE FUNCTION parts_append_only();
CREATE TRIGGER part_ledger_no_truncate BEFORE TRUNCATE ON part_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION parts_append_only();

-- on_hand changes only from inside the ledger trigger (trigger depth 2); a direct INSERT with
-- a count, UPDATE of the count or DELETE of a non-empty row is refused.
CREATE FUNCTION parts_stock_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        IF TG_OP = 'INSERT' AND NEW.on_hand <> 0
           OR TG_OP = 'UPDATE' AND NEW.on_hand IS DISTINCT FROM OLD.on_hand
           OR TG_OP = 'DELETE' AND OLD.on_hand <> 0 THEN
            RAISE EXCEPTION 'part_stock.on_hand follows part_ledger only: % refused', TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER part_stock_guard BEFORE INSERT OR UPDATE OR DELETE ON part_stock
    FOR EACH ROW EXECUTE FUNCTION parts_stock_guard();
CREATE TRIGGER part_stock_no_truncate BEFORE TRUNCATE ON part_stock
    FOR EACH STATEMENT EXECUTE FUNCTION parts_append_only();

-- Low-stock warnings raised and cleared go out on the live stream like tickets and anomalies
-- (storage/events.py; the API relays them to roles that read parts, never to customers).
CREATE TRIGGER part_stock_warnings_notify AFTER INSERT OR UPDATE ON part_stock_warnings
    FOR EACH ROW EXECUTE FUNCTION robowatch_notify('part_warning');

-- A serialised part's count and its serials on that shelf agree at every commit: checked
-- when the transaction ends (a receipt moves the serials and writes the ledger row in either
-- order), for each stock row a ledger row or a serial's move touched.
CREATE FUNCTION parts_serials_match(p_part integer, p_warehouse integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    counted integer;
    shelved integer;
BEGIN
    IF p_warehouse IS NULL
       OR NOT (SELECT serialised FROM part_catalogue WHERE id = p_part) THEN
        RETURN;
    END IF;
    SELECT COALESCE((SELECT on_hand FROM part_stock
                      WHERE part_id = p_part AND warehouse_id = p_warehouse), 0)
      INTO counted;
    SELECT count(*) INTO shelved FROM part_serials
     WHERE part_id = p_part AND warehouse_id = p_warehouse AND state = 'in_stock';
    IF counted <> shelved THEN
        RAISE EXCEPTION 'part % at warehouse %: count % but % serial(s) on the shelf',
            p_part, p_warehouse, counted, shelved
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
END $$;

CREATE FUNCTION parts_serials_match_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM parts_serials_match(NEW.part_id, NEW.warehouse_id);
    IF TG_OP = 'UPDATE' AND OLD.warehouse_id IS DISTINCT FROM NEW.warehouse_id THEN
        PERFORM parts_serials_match(OLD.part_id, OLD.warehouse_id);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER part_ledger_serials_match AFTER INSERT ON part_ledger
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION parts_serials_match_trigger();
CREATE CONSTRAINT TRIGGER part_serials_match AFTER INSERT OR UPDATE ON part_serials
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION parts_serials_match_trigger();
