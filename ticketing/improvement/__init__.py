"""The improvement loop (service rules section 6; policy ``[improvement]``).

Modules: ``rca`` (the root-cause report a grade I/II or repeated fault owes, due on the
ticket's own ``rca`` clock), ``recurrence`` (a repeat of a recently closed fault, and common
problems across robots and customers), ``common`` (a common problem's lifecycle: CAPA, then
the verification of its effect), ``quality`` (the reproducible random quality-control draw).
docs/after-sales.md describes the whole.
"""
