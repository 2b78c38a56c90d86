-- The live stream's log: every change the stream announces (the rows robowatch_notify
-- announces, migrations 0003, 0007 and 0011), numbered in commit order, so that a client that
-- reconnects with the last id it saw gets exactly what it missed, no gap, no duplicate.

CREATE TABLE stream_log (
    id      bigserial PRIMARY KEY,
    type    text NOT NULL CHECK (type IN ('anomaly', 'ticket', 'ticket_event', 'part_warning')),
    op      text NOT NULL CHECK (op IN ('insert', 'update')),
    row_id  bigint NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stream_log_at_idx ON stream_log (at);

-- Runs at commit (deferred constraint triggers), under a lock that is released only after
-- the commit is visible: a transaction numbers its entries after every earlier one has
-- committed, so a reader that sees entry N also sees every entry below N. A plain sequence
-- would not do: ids taken early by a long transaction would appear behind later ones.
CREATE FUNCTION robowatch_stream_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('robowatch:stream-log'));
    INSERT INTO stream_log (type, op, row_id) VALUES (TG_ARGV[0], lower(TG_OP), NEW.id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER anomalies_stream_log AFTER INSERT OR UPDATE ON anomalies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION robowatch_stream_log('anomaly');
CREATE CONSTRAINT TRIGGER tickets_stream_log AFTER INSERT OR UPDATE ON tickets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION robowatch_stream_log('ticket');
CREATE CONSTRAINT TRIGGER ticket_events_stream_log AFTER INSERT ON ticket_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION robowatch_stream_log('ticket_event');
CREATE CONSTRAINT TRIGGER part_stock_warnings_stream_log AFTER INSERT OR UPDATE
    ON part_stock_warnings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION robowatch_stream_log('part_warning');
