"""The ``robowatch`` command: one module per sub-command group, collected in ``main``."""
