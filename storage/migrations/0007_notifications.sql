-- Notifications (docs/notifications.md): an outbox of deliveries planned from ticket events.
-- One row per (event, recipient): a restart re-plans nothing twice, and a delivery that was
-- under way when the process died is marked, never sent again.

ALTER TABLE engineers ADD COLUMN email text;

CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    event_id        bigint NOT NULL REFERENCES ticket_events (id),
    ticket_id       bigint NOT NULL REFERENCES tickets (id),
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text NOT NULL,          -- e-mail address or webhook name
    subject         text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'interrupted')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (event_id, channel, recipient)
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_ticket_idx ON notifications (ticket_id, id);

-- How far the planner has read ticket_events; one row.
CREATE TABLE notification_cursor (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_event_id   bigint NOT NULL DEFAULT 0
);
INSERT INTO notification_cursor DEFAULT VALUES;

-- Ticket events on the live stream too (warnings, breaches, escalations, handovers).
CREATE TRIGGER ticket_events_notify AFTER INSERT ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_notify('ticket_event');
