"""Failure levels of degradation kinds, learnt from run-to-failure histories.

The RUL of a component extrapolates its degradation indicator to the level at which
components of its kind fail (``[rul.failure.<kind>]`` of the engine policy). Those levels are
best taken from the fleet's own history: for every component that ran to failure, the
indicator it read just before failing. :func:`learn_failure_levels` turns such observations
into policy entries (the median as the expected level, the observed range as the band) and
:func:`failure_levels_toml` writes them in the policy's own format (with ``tomli-w``), for
review before they replace the packaged values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import tomli_w

from detection.engine.config import RulFailure

__all__ = ["FailureObservation", "learn_failure_levels", "failure_levels_toml"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureObservation:
    """The indicator of one component of anomaly kind ``kind`` just before it failed."""

    kind: str
    indicator: float


def learn_failure_levels(observations: Iterable[FailureObservation],
                         template: Mapping[str, RulFailure], *,
                         min_observations: int = 3) -> dict[str, RulFailure]:
    """Policy entries with ``level`` / ``low`` / ``high`` learnt from ``observations``.

    Quantity, scale and trend model come from ``template`` (the current policy): they are
    physics, not statistics. A kind with fewer than ``min_observations`` finite observations
    keeps its template entry.

    Examples
    --------
    >>> prior = {"vibration_high": RulFailure(quantity="vibration", model="quadratic",
    ...                                       level=7.0, low=5.0, high=9.0)}
    >>> seen = [FailureObservation(kind="vibration_high", indicator=v)
    ...         for v in (6.0, 8.0, 10.0)]
    >>> f = learn_failure_levels(seen, prior)["vibration_high"]
    >>> (f.model, f.level, f.low, f.high)
    ('quadratic', 8.0, 6.0, 10.0)
    """
    values: dict[str, list[float]] = defaultdict(list)
    for ob in observations:
        if ob.kind in template and np.isfinite(ob.indicator):
            values[ob.kind].append(float(ob.indicator))
    out = dict(template)
    for kind, prior in template.items():
        v = np.asarray(values.get(kind, []))
        if prior.scale == "ratio":
            v = v[v > 1.0]  # a ratio at or below "as new" is not a failure level
        if v.size < min_observations:
            continue
        out[kind] = prior.model_copy(update={
            "level": round(float(np.median(v)), 3), "low": round(float(v.min()), 3),
            "high": round(float(v.max()), 3)})
    return out


def failure_levels_toml(levels: Mapping[str, RulFailure],
                        counts: Mapping[str, int] | None = None) -> str:
    """``[rul.failure.<kind>]`` tables for the engine policy file, preceded by a comment line
    per kind saying how many failures it was learnt from.

    Examples
    --------
    >>> lv = {"vibration_high": RulFailure(quantity="vibration", level=8.0, low=6.0, high=10.0)}
    >>> print(failure_levels_toml(lv, {"vibration_high": 3}))
    # vibration_high: learnt from 3 failures
    <BLANKLINE>
    [rul.failure.vibration_high]
    quantity = "vibration"
    scale = "ratio"
    model = "linear"
    level = 8.0
    low = 6.0
    high = 10.0
    <BLANKLINE>
    """
    notes = [f"# {kind}: learnt from {n} failures"
             for kind, n in sorted((counts or {}).items()) if kind in levels and n]
    doc = {"rul": {"failure": {kind: f.model_dump() for kind, f in sorted(levels.items())}}}
    return "".join(line + "\n" for line in notes) + ("\n" if notes else "") + tomli_w.dumps(doc)
