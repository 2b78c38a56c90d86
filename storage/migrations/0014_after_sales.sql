-- After sales (service rules sections 5 and 6): customer feedback and complaints with their
-- history and extensions, the callback survey of a completed ticket, root-cause reports,
-- repeat faults, common problems with their CAPA, and quality-control draws. Feedback clocks
-- and timers are rows of the ticket clock tables (0008), owned by a feedback record instead
-- of a ticket, so one firing pass serves both.

CREATE TABLE feedback (
    id              bigserial PRIMARY KEY,
    number          text NOT NULL UNIQUE,          -- FB-YYYYMMDD-NNNN / CP-... for complaints
    kind            text NOT NULL CHECK (kind IN ('feedback', 'complaint')),
    customer_id     integer NOT NULL REFERENCES customers (id),
    ticket_id       bigint REFERENCES tickets (id), -- the ticket it is about, if any
    category        text NOT NULL CHECK (category IN ('product_quality', 'service_process',
                        'technical_support', 'other', 'cross_department')),
    urgency         text NOT NULL CHECK (urgency IN ('urgent', 'general', 'complex')),
    major           boolean NOT NULL DEFAULT false, -- revisited 1-2 months after completion
    department      text,                           -- routed to (NULL until routed)
    channel         text NOT NULL CHECK (channel IN ('phone', 'email', 'chat', 'wechat',
                        'on_site', 'callback', 'letter', 'meeting')),
    reporter        text NOT NULL,
    summary         text NOT NULL,
    state           text NOT NULL CHECK (state IN ('received', 'routing', 'processing',
                        'rectifying', 'completed', 'archived')),
    received_at     timestamptz NOT NULL,          -- the customer's word
    registered_at   timestamptz NOT NULL,          -- the record (every clock starts here)
    registered_late boolean NOT NULL,              -- later than the policy's register_within
    timezone        text NOT NULL,                 -- the customer's site: working days count in it
    policy          text NOT NULL,
    confirmed_at    timestamptz,
    plan_at         timestamptz,
    completed_at    timestamptz,
    result          text,
    told_at         timestamptz,
    revisit_due     boolean NOT NULL DEFAULT false,
    revisited_at    timestamptz,
    responded_at    timestamptz,                   -- complaints: the first response
    escalation      smallint NOT NULL DEFAULT 1 CHECK (escalation >= 1),
    version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK (registered_at >= received_at)
);
CREATE INDEX feedback_customer_idx ON feedback (customer_id, registered_at);
CREATE INDEX feedback_kind_idx ON feedback (kind, registered_at);

CREATE TABLE feedback_events (
    id           bigserial PRIMARY KEY,
    feedback_id  bigint NOT NULL REFERENCES feedback (id),
    at           timestamptz NOT NULL,
    event        text NOT NULL,
    actor        text NOT NULL,
    from_state   text,
    to_state     text,
    data         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX feedback_events_feedback_idx ON feedback_events (feedback_id, id);
CREATE TRIGGER feedback_events_append_only BEFORE UPDATE OR DELETE ON feedback_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_append_only();

-- An extension: asked with a reason and a new date, decided by the customer-service head, the
-- customer told what was decided.
CREATE TABLE feedback_extensions (
    id           bigserial PRIMARY KEY,
    feedback_id  bigint NOT NULL REFERENCES feedback (id),
    clock        text NOT NULL,
    asked_at     timestamptz NOT NULL,
    asked_by     text NOT NULL,
    reason       text NOT NULL,
    old_due      timestamptz NOT NULL,
    new_due      timestamptz NOT NULL CHECK (new_due > old_due),
    decided_at   timestamptz,
    decided_by   text,
    approved     boolean,
    notice       text,                            -- what the customer was told
    CHECK ((decided_at IS NULL) = (approved IS NULL))
);
-- One open request per record at a time.
CREATE UNIQUE INDEX feedback_extensions_open_idx ON feedback_extensions (feedback_id)
    WHERE decided_at IS NULL;

ALTER TABLE ticket_clocks
    ALTER COLUMN ticket_id DROP NOT NULL,
    ADD COLUMN feedback_id bigint REFERENCES feedback (id),
    ADD CONSTRAINT ticket_clocks_owner_ck CHECK (num_nonnulls(ticket_id, feedback_id) = 1),
    DROP CONSTRAINT ticket_clocks_clock_check,
    ADD CONSTRAINT ticket_clocks_clock_check CHECK (clock IN (
        'dispatch', 'confirm', 'respond', 'onsite', 'plan', 'resolve', 'update', 'final_update',
        'callback', 'rca', 'solve', 'tell', 'revisit', 'answer'));
CREATE INDEX ticket_clocks_feedback_idx ON ticket_clocks (feedback_id, id)
    WHERE feedback_id IS NOT NULL;

ALTER TABLE ticket_timers
    ALTER COLUMN ticket_id DROP NOT NULL,
    ADD COLUMN feedback_id bigint REFERENCES feedback (id),
    ADD CONSTRAINT ticket_timers_owner_ck CHECK (num_nonnulls(ticket_id, feedback_id) = 1);
CREATE INDEX ticket_timers_feedback_idx ON ticket_timers (feedback_id) WHERE fired_at IS NULL;

-- The callback survey of a completed ticket. The customer's link carries a random token whose
-- SHA-256 digest is kept here; it works once, until it expires.
CREATE TABLE callbacks (
    id               bigserial PRIMARY KEY,
    ticket_id        bigint NOT NULL UNIQUE REFERENCES tickets (id),
    opened_at        timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    token_hash       bytea UNIQUE,
    link_expires_at  timestamptz NOT NULL,
    link_used_at     timestamptz,
    score            smallint CHECK (score BETWEEN 1 AND 5),
    suggestions      text,
    recorded_at      timestamptz,
    recorded_by      text,
    via              text CHECK (via IN ('staff', 'link')),
    follow_up_id     bigint REFERENCES feedback (id),
    CHECK ((score IS NULL) = (recorded_at IS NULL))
);
CREATE INDEX callbacks_recorded_idx ON callbacks (recorded_at) WHERE recorded_at IS NOT NULL;

-- Every ticket opened asks two questions of the tickets before it: a completed one of the same
-- robot and kind (a repeat), and how widely its kind spread lately (a common problem).
CREATE INDEX tickets_repeat_idx ON tickets (robot_id, kind, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX tickets_kind_created_idx ON tickets (kind, created_at);
CREATE INDEX tickets_resolved_idx ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;

-- Repeats: a ticket of the same robot and fault kind soon after a closed one.
CREATE TABLE ticket_repeats (
    ticket_id    bigint PRIMARY KEY REFERENCES tickets (id),
    previous_id  bigint NOT NULL REFERENCES tickets (id),
    flagged_at   timestamptz NOT NULL,
    CHECK (ticket_id <> previous_id)
);

-- The root-cause report a ticket owes (grade I/II, or a repeat).
CREATE TABLE rca_reports (
    id            bigserial PRIMARY KEY,
    ticket_id     bigint NOT NULL UNIQUE REFERENCES tickets (id),
    required_for  text[] NOT NULL,                 -- 'grade', 'repeat'
    required_at   timestamptz NOT NULL,
    due_at        timestamptz,                     -- set at completion
    category      text CHECK (category IN ('design', 'manufacturing', 'installation',
                                           'operation', 'maintenance')),
    cause         text,
    lessons       text,
    gaps          text,
    actions       jsonb,
    submitted_at  timestamptz,
    submitted_by  text,
    CHECK (submitted_at IS NULL OR (cause IS NOT NULL AND category IS NOT NULL))
);

CREATE TABLE common_problems (
    id             bigserial PRIMARY KEY,
    number         text NOT NULL UNIQUE,
    kind           text NOT NULL,
    opened_at      timestamptz NOT NULL,
    robots         integer NOT NULL,
    customers      integer NOT NULL,
    owner          text NOT NULL,
    state          text NOT NULL CHECK (state IN ('open', 'capa', 'verified')),
    capa_due       timestamptz NOT NULL,
    corrective     text,
    preventive     text,
    capa_at        timestamptz,
    verify_due     timestamptz,
    verification   text,
    verified_at    timestamptz
);
-- At most one open common problem per fault kind: new tickets join it.
CREATE UNIQUE INDEX common_problems_open_kind_idx ON common_problems (kind)
    WHERE state IN ('open', 'capa');

-- The ticket's robot and customer are kept with the link: a joining ticket asks "a new robot?
-- a new customer?" through the two indexes, not by counting the problem's tickets again.
CREATE TABLE common_problem_tickets (
    problem_id  bigint NOT NULL REFERENCES common_problems (id),
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    robot_id    integer NOT NULL REFERENCES robots (id),
    customer_id integer NOT NULL REFERENCES customers (id),
    PRIMARY KEY (problem_id, ticket_id)
);
CREATE INDEX common_problem_robots_idx ON common_problem_tickets (problem_id, robot_id);
CREATE INDEX common_problem_customers_idx ON common_problem_tickets (problem_id, customer_id);

-- Quality control: a reproducible random draw of resolved tickets, and each check's result.
CREATE TABLE qc_draws (
    id          bigserial PRIMARY KEY,
    period_from timestamptz NOT NULL,
    period_to   timestamptz NOT NULL CHECK (period_to > period_from),
    seed        bigint NOT NULL,
    share       double precision NOT NULL CHECK (share > 0 AND share <= 1),
    population  integer NOT NULL,
    drawn_at    timestamptz NOT NULL,
    drawn_by    text NOT NULL
);

CREATE TABLE qc_checks (
    draw_id     bigint NOT NULL REFERENCES qc_draws (id),
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    result      text CHECK (result IN ('pass', 'fail')),
    note        text,
    checked_at  timestamptz,
    checked_by  text,
    PRIMARY KEY (draw_id, ticket_id),
    CHECK ((result IS NULL) = (checked_at IS NULL))
);
