"""Notifications: ticket events told to people by e-mail and to group chats by webhook.

``plan`` decides who hears of an event (pure, from the policy's ``[notifications]``),
``channels`` sends one message (SMTP, webhook), ``service`` runs the outbox: plans new events,
sends what is due, retries with backoff and records every outcome (``storage.notifications``).
"""
