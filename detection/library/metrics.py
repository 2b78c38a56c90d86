"""Scoring of detections against labels: pooled outlier metrics and the NAB changepoint score.

The NAB variant is the one of the SKAB benchmark (``core/metrics.py`` of SKAB, from the tsad
library), rules re-implemented here:

- a window of fixed width to the right of each true changepoint, ``[t, t + width]``, both
  ends included; when two windows overlap, the right one starts where the left one ends;
- the first detection inside a window is a true positive, scored on a tanh curve sampled at
  1000 points, from ``A_tp`` at the changepoint down to ``A_fp`` at the window's end; further
  detections inside the same window cost nothing;
- every detection outside all windows costs ``A_fp``, every window without one ``A_fn``;
- the sum over all files is normalised: ``100 * (S - null) / (perfect - null)`` with
  ``null = windows * A_fn`` (detect nothing) and ``perfect = windows * A_tp``.

The *detections* are not the outlier flags themselves. SKAB's published notebooks turn a 0/1
outlier decision into changepoints by holding each alarm for 30 samples (a rolling maximum)
and reporting every change of the held signal, rising and falling: see
:func:`alarm_changepoints`. With that rule our rerun of the published Isolation Forest
reproduces its NAB row to the last digit (docs/detection.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["BinaryScores", "binary_scores", "NabProfile", "NAB_PROFILES", "NabCounts",
           "nab_counts", "nab_normalise", "changes_of", "alarm_changepoints"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BinaryScores:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def f1(self) -> float:
        return self.tp / (self.tp + (self.fp + self.fn) / 2) if self.tp else 0.0

    @property
    def far(self) -> float:
        """False alarm rate, a fraction of the normal rows."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        """Missed alarm rate, a fraction of the anomalous rows."""
        return self.fn / (self.fn + self.tp) if self.fn + self.tp else 0.0

    def __add__(self, other: BinaryScores) -> BinaryScores:
        return BinaryScores(tp=self.tp + other.tp, fp=self.fp + other.fp,
                            fn=self.fn + other.fn, tn=self.tn + other.tn)


def binary_scores(truth: ArrayLike, predicted: ArrayLike) -> BinaryScores:
    """Confusion counts of two boolean sequences of the same length."""
    t = np.asarray(truth).astype(bool)
    p = np.asarray(predicted).astype(bool)
    if t.shape != p.shape:
        raise ValueError(f"truth and predicted differ in shape: {t.shape} vs {p.shape}")
    return BinaryScores(tp=int((t & p).sum()), fp=int((~t & p).sum()),
                        fn=int((t & ~p).sum()), tn=int((~t & ~p).sum()))


def changes_of(predicted: ArrayLike) -> NDArray[np.bool_]:
    """Rows where a 0/1 decision changes: the changepoints a binary detector implies."""
    p = np.asarray(predicted).astype(np.int8)
    out = np.zeros(p.shape, dtype=bool)
    out[1:] = p[1:] != p[:-1]
    return out


def alarm_changepoints(predicted: ArrayLike, *, hold: int) -> NDArray[np.bool_]:
    """Changepoints implied by a 0/1 alarm under SKAB's convention.

    The alarm is held for ``hold`` samples (maximum over the last ``hold`` values, 0 while
    fewer than ``hold`` values exist) and every change of the held signal is a changepoint;
    the first sample counts as one if the raw alarm is on there. With ``hold=1`` this is
    :func:`changes_of` plus that first-sample rule.

    Examples
    --------
    >>> alarm_changepoints([0, 0, 1, 0, 0, 0, 0], hold=3).astype(int).tolist()
    [0, 0, 1, 0, 0, 1, 0]
    """
    p = np.asarray(predicted).astype(bool)
    if hold < 1:
        raise ValueError(f"hold must be >= 1, got {hold!r}")
    held = np.zeros(p.shape, dtype=bool)
    if p.size >= hold:
        # Windowed "any" through a cumulative count: held[i] covers p[i-hold+1 .. i].
        counts = np.concatenate([[0], np.cumsum(p)])
        held[hold - 1:] = (counts[hold:] - counts[:-hold]) > 0
    out = changes_of(held)
    if p.size:
        out[0] = p[0]
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class NabProfile:
    name: str
    a_tp: float
    a_fp: float
    a_fn: float


NAB_PROFILES = (
    NabProfile(name="standard", a_tp=1.0, a_fp=-0.11, a_fn=-1.0),
    NabProfile(name="lowfp", a_tp=1.0, a_fp=-0.22, a_fn=-1.0),
    NabProfile(name="lowfn", a_tp=1.0, a_fp=-0.11, a_fn=-2.0),
)

# The curve is sampled at this many points, as in the SKAB reference implementation, so that
# our scores match the published ones to the last digit.
_CURVE_POINTS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class NabCounts:
    """What one file contributes: positions of first detections in windows, misses, FPs."""

    tp_positions: tuple[float, ...]  # 0 = at the changepoint, 1 = at the window's right end
    fn: int
    fp: int
    windows: int

    def __add__(self, other: NabCounts) -> NabCounts:
        return NabCounts(tp_positions=self.tp_positions + other.tp_positions,
                         fn=self.fn + other.fn, fp=self.fp + other.fp,
                         windows=self.windows + other.windows)


def nab_counts(times: ArrayLike, true_cp: ArrayLike, pred_cp: ArrayLike,
               *, window: float) -> NabCounts:
    """Match detected changepoints to windows ``[t, t + window]`` after each true one.

    ``times`` are seconds (any origin, increasing); ``true_cp`` and ``pred_cp`` booleans.
    """
    ts = np.asarray(times, dtype=np.float64)
    truth = ts[np.asarray(true_cp).astype(bool)]
    pred = np.sort(ts[np.asarray(pred_cp).astype(bool)])
    bounds = [[t, t + window] for t in truth]
    for i in range(len(bounds) - 1):  # overlapping windows: the right one starts later
        if bounds[i][1] >= bounds[i + 1][0]:
            bounds[i + 1][0] = bounds[i][1]
    if not bounds:
        return NabCounts(tp_positions=(), fn=0, fp=int(pred.size), windows=0)
    positions: list[float] = []
    fn = 0
    inside = np.zeros(pred.size, dtype=bool)
    for lo, hi in bounds:
        hit = (pred >= lo) & (pred <= hi)
        inside |= hit
        if hit.any():
            positions.append((pred[hit][0] - lo) / (hi - lo) if hi > lo else 0.0)
        else:
            fn += 1
    return NabCounts(tp_positions=tuple(positions), fn=fn, fp=int((~inside).sum()),
                     windows=len(bounds))


def _curve_value(position: float, profile: NabProfile) -> float:
    x = np.linspace(-np.pi / 2, np.pi / 2, _CURVE_POINTS)
    half = (profile.a_tp - profile.a_fp) / 2
    y = -half * np.tanh(x) / np.tanh(np.pi / 2) + half + profile.a_fp
    return float(y[min(int(position * _CURVE_POINTS), _CURVE_POINTS - 1)])


def nab_normalise(counts: NabCounts,
                  profiles: Sequence[NabProfile] = NAB_PROFILES) -> dict[str, float]:
    """Normalised NAB score per profile: 0 = detect nothing, 100 = perfect."""
    out: dict[str, float] = {}
    for prof in profiles:
        raw = (prof.a_fp * counts.fp + prof.a_fn * counts.fn
               + sum(_curve_value(p, prof) for p in counts.tp_positions))
        null, perfect = counts.windows * prof.a_fn, counts.windows * prof.a_tp
        out[prof.name] = 100 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return out
