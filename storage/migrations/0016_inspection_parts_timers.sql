-- Preventive maintenance (issue 13), the rest: an inspection's parts reserved in the
-- warehouse serving its site, its overdue clock kept in the ticket clock and timer rows
-- (owner inspection_id, fired by the same timer loop), and its history on the live stream.

-- The reservation (parts/ requisitions of work order "INS-<id>"): where and when, or why not.
ALTER TABLE inspections
    ADD COLUMN parts_warehouse    text,
    ADD COLUMN parts_reserved_at  timestamptz,
    ADD COLUMN parts_shortage     text;
CREATE INDEX inspections_to_reserve_idx ON inspections (window_start)
    WHERE parts_reserved_at IS NULL AND state IN ('planned', 'scheduled');

-- A clock run and its timers belong to a ticket, a feedback record or an inspection.
ALTER TABLE ticket_clocks
    ADD COLUMN inspection_id bigint REFERENCES inspections (id),
    DROP CONSTRAINT ticket_clocks_owner_ck,
    ADD CONSTRAINT ticket_clocks_owner_ck
        CHECK (num_nonnulls(ticket_id, feedback_id, inspection_id) = 1),
    DROP CONSTRAINT ticket_clocks_clock_check,
    ADD CONSTRAINT ticket_clocks_clock_check CHECK (clock IN (
        'dispatch', 'confirm', 'respond', 'onsite', 'plan', 'resolve', 'update', 'final_update',
        'callback', 'rca', 'solve', 'tell', 'revisit', 'answer', 'inspection'));
CREATE INDEX ticket_clocks_inspection_idx ON ticket_clocks (inspection_id, id)
    WHERE inspection_id IS NOT NULL;

ALTER TABLE ticket_timers
    ADD COLUMN inspection_id bigint REFERENCES inspections (id),
    DROP CONSTRAINT ticket_timers_owner_ck,
    ADD CONSTRAINT ticket_timers_owner_ck
        CHECK (num_nonnulls(ticket_id, feedback_id, inspection_id) = 1);
CREATE INDEX ticket_timers_inspection_idx ON ticket_timers (inspection_id)
    WHERE fired_at IS NULL;

-- Inspection history (warnings, breaches, escalations, parts reserved or short) on the live
-- stream, like a ticket's.
ALTER TABLE stream_log
    DROP CONSTRAINT stream_log_type_check,
    ADD CONSTRAINT stream_log_type_check CHECK (type IN ('anomaly', 'ticket', 'ticket_event',
                                                         'part_warning', 'inspection_event'));
CREATE TRIGGER inspection_events_notify AFTER INSERT ON inspection_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_notify('inspection_event');
CREATE CONSTRAINT TRIGGER inspection_events_stream_log AFTER INSERT ON inspection_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION robowatch_stream_log('inspection_event');

-- An inspection's warnings, breaches and escalations go through the notification outbox like
-- a ticket's: a delivery comes from a ticket event or an inspection event, and the planner
-- keeps a cursor for each.
ALTER TABLE notifications
    ALTER COLUMN event_id DROP NOT NULL,
    ALTER COLUMN ticket_id DROP NOT NULL,
    ADD COLUMN inspection_event_id bigint REFERENCES inspection_events (id),
    ADD CONSTRAINT notifications_source_ck
        CHECK (num_nonnulls(event_id, inspection_event_id) = 1);
CREATE UNIQUE INDEX notifications_inspection_event_uq
    ON notifications (inspection_event_id, channel, recipient)
    WHERE inspection_event_id IS NOT NULL;
ALTER TABLE notification_cursor ADD COLUMN last_inspection_event_id bigint NOT NULL DEFAULT 0;
