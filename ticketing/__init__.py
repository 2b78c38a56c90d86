"""ticketing: anomalies become graded tickets with SLA clocks and a strict lifecycle.

Modules, by concept: ``policy`` (TOML policy files, validated), ``grading`` (tier x impact,
multi-customer escalation), ``lifecycle`` (the state machine), ``events`` (``apply``: every
ticket event, and manual intake), ``calendar`` (24x7 and working-day time), ``clocks`` (which
clocks a ticket runs and their timer plans, pure), ``deadlines`` (the clocks kept in step with
the events), ``timers`` (``fire_due``: warnings, breaches, re-dispatch, escalation), ``sla``
(the read-time view), ``intake`` (one anomaly -> ticket), ``incidents``, ``dispatch`` (who gets
it), ``roster``, ``notify``, ``service`` (``run_ticketing``: NOTIFY + sweep + timers),
``errors`` (the exception hierarchy), ``units`` (durations and calendars policy files are
written in). After sales (docs/after-sales.md): ``feedback/`` (feedback records, complaints,
callback surveys), ``improvement/`` (root-cause reports, repeats, common problems, quality
control), ``aftersales`` (the hooks where a ticket opens and completes). Shipped policies are
in ``ticketing/policies``; the format is in ``docs/service-policy.md``.
"""
