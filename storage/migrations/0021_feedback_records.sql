-- Records and notifications of customer feedback and complaints (service rules sections 5 and
-- 10; docs/records.md, docs/notifications.md): the feedback history hash-chained like the
-- ticket history, archive reads of feedback records logged with those of tickets, and
-- feedback events planned into the same notification outbox as ticket events.

-- 1. The chain. Same encoding as the ticket history: robowatch_event_hash (0013) with the
-- feedback record's id in the owner's place, so `audit verify` judges both with one
-- definition. The link step is this table's own trigger because it locks and updates this
-- table's owner and head rows; a generic one would need dynamic SQL on every ticket event.
ALTER TABLE feedback_events
    ADD COLUMN seq       bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash      bytea;

CREATE TABLE feedback_event_heads (
    feedback_id bigint PRIMARY KEY REFERENCES feedback (id),
    seq         bigint NOT NULL CHECK (seq >= 1),
    hash        bytea NOT NULL
);

CREATE FUNCTION robowatch_chain_feedback_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head feedback_event_heads%ROWTYPE;
BEGIN
    -- One writer per record at a time, in storage.feedback's order (record row first).
    PERFORM 1 FROM feedback WHERE id = NEW.feedback_id FOR NO KEY UPDATE;
    SELECT * INTO head FROM feedback_event_heads WHERE feedback_id = NEW.feedback_id;
    IF FOUND THEN
        NEW.seq := head.seq + 1;
        NEW.prev_hash := head.hash;
    ELSE
        NEW.seq := 1;
        NEW.prev_hash := robowatch_chain_genesis();
    END IF;
    NEW.hash := robowatch_event_hash(NEW.id, NEW.feedback_id, NEW.seq, NEW.at, NEW.event,
                                     NEW.actor, NEW.from_state, NEW.to_state, NEW.data,
                                     NEW.prev_hash);
    INSERT INTO feedback_event_heads (feedback_id, seq, hash)
        VALUES (NEW.feedback_id, NEW.seq, NEW.hash)
        ON CONFLICT (feedback_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;
    RETURN NEW;
END $$;

-- Back-fill the history written before this migration, record by record in id order.
ALTER TABLE feedback_events DISABLE TRIGGER feedback_events_append_only;
DO $$
DECLARE
    r record;
    prev bytea;
    last_feedback bigint;
    n bigint;
BEGIN
    FOR r IN SELECT * FROM feedback_events ORDER BY feedback_id, id LOOP
        IF last_feedback IS DISTINCT FROM r.feedback_id THEN
            last_feedback := r.feedback_id;
            prev := robowatch_chain_genesis();
            n := 0;
        END IF;
        n := n + 1;
        UPDATE feedback_events
           SET seq = n, prev_hash = prev,
               hash = robowatch_event_hash(r.id, r.feedback_id, n, r.at, r.event, r.actor,
                                           r.from_state, r.to_state, r.data, prev)
         WHERE id = r.id
        RETURNING hash INTO prev;
    END LOOP;
END $$;
ALTER TABLE feedback_events ENABLE TRIGGER feedback_events_append_only;
INSERT INTO feedback_event_heads (feedback_id, seq, hash)
    SELECT DISTINCT ON (feedback_id) feedback_id, seq, hash FROM feedback_events
     ORDER BY feedback_id, seq DESC;

ALTER TABLE feedback_events
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX feedback_events_chain_uq ON feedback_events (feedback_id, seq);
CREATE TRIGGER feedback_events_chain BEFORE INSERT ON feedback_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_chain_feedback_event();

-- 2. Archive reads of a feedback record, in the same log (who, what, when).
ALTER TABLE archive_reads
    ALTER COLUMN ticket_id DROP NOT NULL,
    ADD COLUMN feedback_id bigint,
    ADD CONSTRAINT archive_reads_owner_ck CHECK (num_nonnulls(ticket_id, feedback_id) = 1);
CREATE INDEX archive_reads_feedback_idx ON archive_reads (feedback_id, at)
    WHERE feedback_id IS NOT NULL;

-- 3. The outbox: a delivery comes from a ticket event or from a feedback event (one of the
-- two), one row per (event, channel, recipient) either way, and the planner reads the
-- feedback history past its own cursor, moved in the same transaction as its rows.
-- (An inspection event, migration inspection_parts_timers, is the third kind of source.)
ALTER TABLE notifications
    ADD COLUMN feedback_event_id bigint REFERENCES feedback_events (id),
    ADD COLUMN feedback_id bigint REFERENCES feedback (id),
    DROP CONSTRAINT notifications_source_ck,
    ADD CONSTRAINT notifications_source_ck
        CHECK (num_nonnulls(event_id, inspection_event_id, feedback_event_id) = 1),
    ADD CONSTRAINT notifications_feedback_ck CHECK (
        (feedback_event_id IS NULL) = (feedback_id IS NULL)
        AND (feedback_id IS NULL OR ticket_id IS NULL)),
    ADD CONSTRAINT notifications_feedback_uq UNIQUE (feedback_event_id, channel, recipient);
CREATE INDEX notifications_feedback_idx ON notifications (feedback_id, id)
    WHERE feedback_id IS NOT NULL;

ALTER TABLE notification_cursor ADD COLUMN last_feedback_event_id bigint NOT NULL DEFAULT 0;

-- 4. Destruction after the retention period, as for tickets (0013): approved first (one row
-- per record, who and why), then purged by `robowatch audit purge --execute`, the row staying
-- as the tombstone. No foreign key, for that reason.
CREATE TABLE feedback_purges (
    feedback_id bigint PRIMARY KEY,
    number      text NOT NULL,
    keep_until  date NOT NULL,
    approved_by text NOT NULL,
    approved_at timestamptz NOT NULL,
    reason      text NOT NULL,
    purged_at   timestamptz,
    purged_by   text,
    events      bigint,
    last_hash   bytea
);
-- Only the one step from approved to purged; nothing else of an approval changes. Written
-- over the row as jsonb, so it holds for any table of this shape.
CREATE FUNCTION robowatch_purge_row_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    outcome CONSTANT text[] := ARRAY['purged_at', 'purged_by', 'events', 'last_hash'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% is append-only: DELETE refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.purged_at IS NOT NULL OR NEW.purged_at IS NULL
       OR (to_jsonb(NEW) - outcome) IS DISTINCT FROM (to_jsonb(OLD) - outcome) THEN
        RAISE EXCEPTION '%: only marking an approved record purged is allowed', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER feedback_purges_guard BEFORE UPDATE OR DELETE ON feedback_purges
    FOR EACH ROW EXECUTE FUNCTION robowatch_purge_row_guard();

-- The feedback history stays append-only, except for the rows of the record the purge is
-- destroying in this transaction (robowatch.purging_feedback, set locally by
-- storage.feedback_records.purge_feedback) after its approval row exists.
CREATE FUNCTION robowatch_feedback_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('robowatch.purging_feedback', true) = OLD.feedback_id::text
       AND EXISTS (SELECT 1 FROM feedback_purges p
                    WHERE p.feedback_id = OLD.feedback_id AND p.purged_at IS NULL) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER feedback_events_append_only ON feedback_events;
CREATE TRIGGER feedback_events_append_only BEFORE UPDATE OR DELETE ON feedback_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_feedback_events_guard();
