-- Clocks that act (service rules sections 3-4): every clock of a ticket is a row with its
-- deadline and whether it was met or breached, and every moment a clock must act (warn,
-- breach, re-dispatch, climb the escalation ladder) is a timer row the ticketing service fires
-- once. Tickets carry a version for optimistic concurrency and what a manual intake records.

-- Working-day clocks count in the site's local days.
ALTER TABLE sites ADD COLUMN timezone text NOT NULL DEFAULT 'Asia/Shanghai';

ALTER TABLE tickets
    ADD COLUMN version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN escalation  smallint NOT NULL DEFAULT 1 CHECK (escalation >= 1),
    ADD COLUMN onsite_at   timestamptz,          -- engineer arrived or remote session started
    ADD COLUMN plan_at     timestamptz,          -- solution plan submitted
    ADD COLUMN reporter    text,                 -- manual intake: who reported it
    ADD COLUMN description text,                 -- manual intake: what happens
    ADD COLUMN request     text,                 -- manual intake: what the customer asks for
    ADD COLUMN merged_into bigint REFERENCES tickets (id),
    ADD CONSTRAINT tickets_channel_ck
        CHECK (channel IN ('monitoring', 'phone', 'email', 'chat', 'wechat', 'on_site')),
    ADD CONSTRAINT tickets_merged_ck CHECK (merged_into IS NULL OR merged_into <> id);

-- One row per run of a clock. A clock that restarts (a new assignee's confirmation, the next
-- progress update, a regrade or an extension) closes its row and opens another, so every run
-- keeps its own verdict.
CREATE TABLE ticket_clocks (
    id           bigserial PRIMARY KEY,
    ticket_id    bigint NOT NULL REFERENCES tickets (id),
    clock        text NOT NULL CHECK (clock IN ('dispatch', 'confirm', 'respond', 'onsite', 'plan',
                                                'resolve', 'update', 'final_update')),
    calendar     text NOT NULL CHECK (calendar IN ('24x7', 'working')),
    started_at   timestamptz NOT NULL,
    allowed      interval NOT NULL CHECK (allowed >= interval '0'),
    due_at       timestamptz,           -- NULL while paused (waiting for the customer)
    paused_left  interval,              -- counted time left when the pause began
    warned_at    timestamptz,
    met_at       timestamptz,           -- the milestone that stops it (late still counts)
    breached_at  timestamptz,           -- the deadline it missed
    closed_at    timestamptz,
    closed_why   text CHECK (closed_why IN ('met', 'replaced', 'reassigned', 'refused', 'moot',
                                            'cancelled')),
    CHECK ((due_at IS NULL) <> (paused_left IS NULL) OR closed_at IS NOT NULL)
);
CREATE INDEX ticket_clocks_ticket_idx ON ticket_clocks (ticket_id, id);

-- What a clock will do, and when. Fired rows stay (fired_at) as proof nothing fires twice;
-- rows a met or replaced clock no longer needs are deleted.
CREATE TABLE ticket_timers (
    id           bigserial PRIMARY KEY,
    ticket_id    bigint NOT NULL REFERENCES tickets (id),
    clock_id     bigint NOT NULL REFERENCES ticket_clocks (id),
    action       text NOT NULL CHECK (action IN ('warn', 'breach', 'reassign', 'escalate')),
    step         smallint NOT NULL DEFAULT 0,   -- escalation: the ladder level it climbs to
    calendar     text NOT NULL CHECK (calendar IN ('24x7', 'working')),
    due_at       timestamptz,                   -- NULL while paused
    paused_left  interval,
    detail       jsonb NOT NULL DEFAULT '{}',   -- escalation: whom it goes to
    attempts     smallint NOT NULL DEFAULT 0,   -- failed firings (postponed, logged)
    fired_at     timestamptz,
    CHECK ((due_at IS NULL) <> (paused_left IS NULL) OR fired_at IS NOT NULL)
);
-- The firing pass reads only what is due: its cost follows the due timers, not the tickets.
CREATE INDEX ticket_timers_due_idx ON ticket_timers (due_at) WHERE fired_at IS NULL;
CREATE INDEX ticket_timers_ticket_idx ON ticket_timers (ticket_id) WHERE fired_at IS NULL;
CREATE INDEX ticket_timers_clock_idx ON ticket_timers (clock_id);

-- Consumers (the notification outbox) read the history by id, per event type.
CREATE INDEX ticket_events_event_idx ON ticket_events (event, id);
