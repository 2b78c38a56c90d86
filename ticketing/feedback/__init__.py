"""Customer feedback, complaints and callback surveys (service rules section 5).

Modules: ``policy`` (the ``[feedback]``, ``[callbacks]`` and ``[improvement]`` policy
sections), ``lifecycle`` (a feedback record's states), ``rules`` (pure: routing, deadlines,
extensions), ``records`` (registration and every event of a record, its clocks kept in step),
``timers`` (warnings, breaches and escalations of feedback clocks), ``callbacks`` (the survey
after a ticket's completion, its single-use link, the follow-up of a low score).
docs/after-sales.md describes the whole.
"""
