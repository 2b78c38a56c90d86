"""Spare parts (service rules section 7): catalogue, stock per warehouse with safety stock and
low-stock warnings, requisitions per ticket or work order, an in/out ledger the database keeps
equal to the count, emergency transfers, serial numbers traced from purchase to scrap, and
warranty rules (free in warranty, charged otherwise).

Modules: ``errors``, ``policy`` (TOML defaults), ``lifecycle`` (the machines), ``warranty``
(pure rules), ``stock`` (goods in, transfers, serials) and ``requisitions``. The package talks
to the database only through ``storage`` (``storage.parts``).
"""

from parts.requisitions import Line, act, release_work_order, request, reserve_for_work_order

__all__ = ["Line", "act", "release_work_order", "request", "reserve_for_work_order"]
