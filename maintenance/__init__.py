"""Preventive maintenance: plans, triggers (calendar, usage, condition), the scheduler,
inspections and their iCalendar feed. Reads health and RUL from storage, never from detection."""
