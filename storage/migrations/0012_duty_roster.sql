-- People on duty (service rules section 4; docs/service-policy.md "People on duty"): who is on
-- duty is computed from the on-call roster, never a flag, so the flag goes. The roster is
-- stored here, so every process (ticketing, notifications, API) answers from the same rota.

ALTER TABLE engineers DROP COLUMN on_duty;

-- Each load of a roster is a new row; the highest id is the roster in force.
CREATE TABLE duty_rosters (
    id         bigserial PRIMARY KEY,
    document   jsonb NOT NULL,             -- the rota as ticketing.roster.Roster validates it
    source     text NOT NULL DEFAULT '',   -- the file it came from
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per shift change of a team: the handover timer. It is scheduled (fired_at NULL,
-- due at the change) by the timer pass, fired once by it (the same pass as the ticket timers,
-- FOR UPDATE SKIP LOCKED), and acknowledged by someone of the incoming shift.
CREATE TABLE shift_handovers (
    id               bigserial PRIMARY KEY,
    roster_id        bigint NOT NULL REFERENCES duty_rosters (id),
    team             text NOT NULL,
    at               timestamptz NOT NULL,      -- the shift change
    leaving_shift    text NOT NULL,
    incoming_shift   text NOT NULL,
    leaving          text[] NOT NULL,           -- engineer codes going off duty
    incoming         text[] NOT NULL,           -- engineer codes coming on duty
    tickets          bigint[] NOT NULL DEFAULT '{}',  -- open tickets handed over
    fired_at         timestamptz,
    superseded       boolean NOT NULL DEFAULT false,  -- a later change was due too: moot
    acknowledged_by  text,
    acknowledged_at  timestamptz,
    UNIQUE (team, at),
    CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL)),
    CHECK (acknowledged_at IS NULL OR fired_at IS NOT NULL)
);
-- The timer pass reads only what is due.
CREATE INDEX shift_handovers_due_idx ON shift_handovers (at) WHERE fired_at IS NULL;
