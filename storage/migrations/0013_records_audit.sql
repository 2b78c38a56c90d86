-- Records (service rules section 10, docs/records.md): a tamper-evident ticket history, a log
-- of every archive read, and purges that happen only after a recorded approval.

-- Each ticket's history is one hash chain: event n carries seq n, the hash of event n-1
-- (prev_hash) and its own hash = SHA-256(canonical encoding || prev_hash). Per ticket, not one
-- global chain: writers of different tickets never wait for each other (a global chain would
-- serialise every event insert of the service on one row until commit), writers of one ticket
-- already queue on its row lock, and verification is one set-based pass partitioned by ticket
-- (or one ticket alone, for its archive).
ALTER TABLE ticket_events
    ADD COLUMN seq       bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash      bytea;

-- The last link of each chain: deleting the newest events of a ticket leaves the head pointing
-- past the end, so a cut tail is found like a gap.
CREATE TABLE ticket_event_heads (
    ticket_id   bigint PRIMARY KEY REFERENCES tickets (id),
    seq         bigint NOT NULL CHECK (seq >= 1),
    hash        bytea NOT NULL
);

-- The chain's first prev_hash: 32 zero bytes.
CREATE FUNCTION robowatch_chain_genesis() RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea $$;

-- The canonical encoding: the UTF-8 text of the fields joined by commas, in this order: id,
-- ticket_id, seq, at as integer microseconds since 1970-01-01 UTC, then event, actor,
-- from_state and to_state each as an SQL literal (quote_nullable: 'text' with quotes doubled,
-- or NULL), then data as jsonb's own normalised text (keys sorted, no insignificant space);
-- followed by the 32 bytes of prev_hash. Quoting makes it unambiguous, and data comes last.
-- One definition, used by the insert trigger and by `robowatch audit verify`, so the two can
-- never encode differently. (A JSON array of the same fields costs twice as much to build:
-- 1.3 s against 0.85 s per 100,000 rows, measured for the 10 s budget of a full verify.)
CREATE FUNCTION robowatch_event_hash(
    id bigint, ticket_id bigint, seq bigint, at timestamptz, event text, actor text,
    from_state text, to_state text, data jsonb, prev_hash bytea
) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(concat_ws(',', id, ticket_id, seq,
                                       (extract(epoch FROM at) * 1000000)::bigint,
                                       quote_nullable(event), quote_nullable(actor),
                                       quote_nullable(from_state), quote_nullable(to_state),
                                       data::text), 'UTF8') || prev_hash)
$$;

-- Computed on insert, so no writer (Python or SQL) can forget or forge the links: whatever
-- seq and hashes an INSERT names are replaced.
CREATE FUNCTION robowatch_chain_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head ticket_event_heads%ROWTYPE;
BEGIN
    -- One writer per ticket at a time, in the same order as storage.tickets.transition (ticket
    -- row first, then this): two events of one ticket can neither fork the chain nor deadlock.
    PERFORM 1 FROM tickets WHERE id = NEW.ticket_id FOR NO KEY UPDATE;
    SELECT * INTO head FROM ticket_event_heads WHERE ticket_id = NEW.ticket_id;
    IF FOUND THEN
        NEW.seq := head.seq + 1;
        NEW.prev_hash := head.hash;
    ELSE
        NEW.seq := 1;
        NEW.prev_hash := robowatch_chain_genesis();
    END IF;
    NEW.hash := robowatch_event_hash(NEW.id, NEW.ticket_id, NEW.seq, NEW.at, NEW.event, NEW.actor,
                                     NEW.from_state, NEW.to_state, NEW.data, NEW.prev_hash);
    INSERT INTO ticket_event_heads (ticket_id, seq, hash) VALUES (NEW.ticket_id, NEW.seq, NEW.hash)
        ON CONFLICT (ticket_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;
    RETURN NEW;
END $$;

-- Back-fill the history written before this migration, ticket by ticket in id order.
ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only;
DO $$
DECLARE
    r record;
    prev bytea;
    last_ticket bigint;
    n bigint;
BEGIN
    FOR r IN SELECT * FROM ticket_events ORDER BY ticket_id, id LOOP
        IF last_ticket IS DISTINCT FROM r.ticket_id THEN
            last_ticket := r.ticket_id;
            prev := robowatch_chain_genesis();
            n := 0;
        END IF;
        n := n + 1;
        UPDATE ticket_events
           SET seq = n, prev_hash = prev,
               hash = robowatch_event_hash(r.id, r.ticket_id, n, r.at, r.event, r.actor,
                                           r.from_state, r.to_state, r.data, prev)
         WHERE id = r.id
        RETURNING hash INTO prev;
    END LOOP;
END $$;
ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only;
INSERT INTO ticket_event_heads (ticket_id, seq, hash)
    SELECT DISTINCT ON (ticket_id) ticket_id, seq, hash FROM ticket_events
     ORDER BY ticket_id, seq DESC;

ALTER TABLE ticket_events
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX ticket_events_chain_uq ON ticket_events (ticket_id, seq);
CREATE TRIGGER ticket_events_chain BEFORE INSERT ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_chain_event();

-- KPIs (storage/reports.py) ask, for each ticket of a period, whether the same robot had the
-- same fault resolved shortly before (a repeat).
CREATE INDEX tickets_robot_kind_idx ON tickets (robot_id, kind, resolved_at);

-- Every read of an archive (who, what, when). No foreign key: the log outlives a purge.
CREATE TABLE archive_reads (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    reader      text NOT NULL,           -- user name, API key name or OS user of the CLI
    role        text,
    ticket_id   bigint NOT NULL,
    number      text NOT NULL,
    what        text NOT NULL,           -- 'archive' (the whole record) or a document kind
    via         text NOT NULL CHECK (via IN ('api', 'cli'))
);
CREATE INDEX archive_reads_ticket_idx ON archive_reads (ticket_id, at);
CREATE TRIGGER archive_reads_append_only BEFORE UPDATE OR DELETE ON archive_reads
    FOR EACH ROW EXECUTE FUNCTION robowatch_append_only();

-- Destruction after the retention period: approved first (one row per ticket, who and why),
-- then purged by `robowatch audit purge --execute`, which fills purged_at. The row stays as
-- the tombstone that explains why the ticket's chain is gone. No foreign key, for that reason.
CREATE TABLE record_purges (
    ticket_id   bigint PRIMARY KEY,
    number      text NOT NULL,
    keep_until  date NOT NULL,           -- end of retention the approval was given against
    approved_by text NOT NULL,
    approved_at timestamptz NOT NULL,
    reason      text NOT NULL,
    purged_at   timestamptz,
    purged_by   text,
    events      bigint,                  -- how many history rows were destroyed
    last_hash   bytea                    -- the chain's head when it was destroyed
);
CREATE FUNCTION robowatch_purge_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'record_purges is append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Only the one step from approved to purged; nothing else of an approval changes.
    IF OLD.purged_at IS NOT NULL OR NEW.purged_at IS NULL
       OR (NEW.ticket_id, NEW.number, NEW.keep_until, NEW.approved_by, NEW.approved_at, NEW.reason)
          IS DISTINCT FROM
          (OLD.ticket_id, OLD.number, OLD.keep_until, OLD.approved_by, OLD.approved_at, OLD.reason)
    THEN
        RAISE EXCEPTION 'record_purges: only marking an approved ticket purged is allowed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER record_purges_guard BEFORE UPDATE OR DELETE ON record_purges
    FOR EACH ROW EXECUTE FUNCTION robowatch_purge_guard();

-- The history stays append-only, except for the rows of a ticket the purge is destroying in
-- this transaction (robowatch.purging, set locally by storage.audit.purge_ticket) after an
-- approval row exists: an unapproved DELETE is still refused.
CREATE FUNCTION robowatch_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('robowatch.purging', true) = OLD.ticket_id::text
       AND EXISTS (SELECT 1 FROM record_purges p
                    WHERE p.ticket_id = OLD.ticket_id AND p.purged_at IS NULL) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER ticket_events_append_only ON ticket_events;
CREATE TRIGGER ticket_events_append_only BEFORE UPDATE OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_events_guard();
