"""The scoring rules of the Numenta Anomaly Benchmark (NAB), re-implemented.

Rules as published (Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the
Numenta Anomaly Benchmark", ICMLA 2015, and the NAB repository's README and scorer), our own
code:

- every labelled anomaly gets a window centred on it, of total width 10 % of the file's
  rows divided by the number of anomalies in the file (windows are clipped to the file;
  overlapping windows merge);
- the first ``probation`` rows (15 % of the file, at most 750) are not scored: detections
  there count for nothing;
- only the first detection inside a window counts, weighted by the *scaled sigmoid* of its
  relative position in the window, ``sigma(y) = 2 / (1 + exp(5 y)) - 1`` with ``y = -1`` at
  the window's left edge and ``y = 0`` just past its right edge, normalised so that a
  detection at the left edge earns ``A_tp``; a window without a detection costs ``A_fn``;
- a detection outside every window costs ``A_fp`` times ``-sigma(y)``, ``y`` its distance past
  the end of the previous window in window widths (``-1`` when no window precedes it, and
  from 3 widths on), so a late detection right after a window costs less than a stray one;
- the profiles weigh those outcomes: *standard* (``A_tp`` 1, ``A_fp`` 0.11, ``A_fn`` 1),
  *reward low FP* (``A_fp`` 0.22) and *reward low FN* (``A_fn`` 2)
  (:data:`detection.library.metrics.NAB_PROFILES`);
- the raw scores of all files are summed and normalised against the null detector (no
  detection: ``-A_fn`` per window) and the perfect one (a detection at every window's left
  edge, nothing else: ``A_tp`` per window): ``100 (S - null) / (perfect - null)``.

SKAB's variant of the NAB score (windows to the right of a changepoint, a tanh curve) is
:func:`detection.library.metrics.nab_normalise`; this module is the original.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from detection.errors import InvalidInputError
from detection.library.metrics import NAB_PROFILES, NabProfile

__all__ = ["nab_windows", "probation_rows", "scaled_sigmoid", "NabFileScore", "score_file",
           "NabTotal"]

#: Share of a file's rows covered by the windows together (NAB's ``windowSize``).
WINDOW_SHARE = 0.10
#: Share of a file's rows, and the cap, of the unscored probation at its start.
PROBATION_SHARE, PROBATION_CAP = 0.15, 750


def scaled_sigmoid(y: float) -> float:
    """NAB's weight of a detection at relative position ``y``.

    Examples
    --------
    >>> [round(scaled_sigmoid(y), 5) for y in (-1.0, -0.5, 0.0, 1.0, 3.0)]
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n: int) -> int:
    """Rows at the start of a file of ``n`` rows that are not scored."""
    return int(min(math.floor(PROBATION_SHARE * n), PROBATION_SHARE * 5000))


def nab_windows(n: int, labels: Sequence[int]) -> list[tuple[int, int]]:
    """Windows ``(first, last)`` row, both included, centred on each labelled row.

    Examples
    --------
    >>> nab_windows(1000, [300, 700])
    [(275, 325), (675, 725)]
    >>> nab_windows(1000, [10, 30])  # clipped to the file, overlapping windows merged
    [(0, 55)]
    """
    if not labels:
        return []
    width = WINDOW_SHARE * n / len(labels)
    out: list[tuple[int, int]] = []
    for row in sorted(labels):
        if not 0 <= row < n:
            raise InvalidInputError(f"label row {row} outside the file's {n} rows")
        lo = max(0, int(math.floor(row - width / 2)))
        hi = min(n - 1, int(math.ceil(row + width / 2)))
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class NabFileScore:
    """One file's raw NAB score per profile, with its null and perfect scores."""

    raw: dict[str, float]
    null: dict[str, float]
    perfect: dict[str, float]
    windows: int
    detected: int  # windows with a detection
    false_positives: int  # detections outside every window (after the probation)


def score_file(detections: ArrayLike, labels: Sequence[int],
               profiles: Sequence[NabProfile] = NAB_PROFILES) -> NabFileScore:
    """Score one file's 0/1 ``detections`` (one per row) against its labelled rows.

    Examples
    --------
    >>> det = np.zeros(1000, dtype=bool)
    >>> det[[280, 900]] = True  # early in the first window; one stray detection
    >>> s = score_file(det, [300, 700])
    >>> round(s.raw["standard"], 4), s.null["standard"], s.perfect["standard"]
    (-0.1185, -2.0, 2.0)
    """
    det = np.asarray(detections).astype(bool)
    n = det.size
    wins = nab_windows(n, labels)
    start = probation_rows(n)
    # Windows that lie wholly inside the probation are not scored (NAB names their rows
    # "probationary"), so they count neither for the null nor for the perfect detector.
    scored = [(lo, hi) for lo, hi in wins if hi >= start]
    tp_weight: list[float] = []
    fp_position: list[float] = []
    w = 0
    prev: tuple[int, int] | None = None
    hit = False
    for i in np.flatnonzero(det):
        if i < start:
            continue
        while w < len(scored) and i > scored[w][1]:
            prev, hit, w = scored[w], False, w + 1
        if w < len(scored) and scored[w][0] <= i:
            lo, hi = scored[w]
            if not hit:
                width = hi - lo + 1
                tp_weight.append(scaled_sigmoid(-(hi - i + 1) / width) / scaled_sigmoid(-1.0))
                hit = True
        else:
            if prev is None:
                fp_position.append(3.0)
            else:
                lo, hi = prev
                fp_position.append(abs(hi - i) / max(hi - lo, 1))
    raw, null, perfect = {}, {}, {}
    for p in profiles:
        a_tp, a_fp, a_fn = p.a_tp, -p.a_fp, -p.a_fn  # NAB's weights are magnitudes
        raw[p.name] = (a_tp * sum(tp_weight) - a_fn * (len(scored) - len(tp_weight))
                       + a_fp * sum(scaled_sigmoid(y) for y in fp_position))
        null[p.name] = -a_fn * len(scored)
        perfect[p.name] = a_tp * len(scored)
    return NabFileScore(raw=raw, null=null, perfect=perfect, windows=len(scored),
                        detected=len(tp_weight), false_positives=len(fp_position))


@dataclass(slots=True)
class NabTotal:
    """Sum of file scores; :meth:`normalised` gives the benchmark's 0..100 figures."""

    files: list[NabFileScore] = field(default_factory=list)

    def add(self, score: NabFileScore) -> None:
        self.files.append(score)

    def normalised(self) -> dict[str, float]:
        """``100 (S - null) / (perfect - null)`` per profile, over all files.

        Examples
        --------
        >>> t = NabTotal()
        >>> det = np.zeros(1000, dtype=bool)
        >>> det[250] = True  # the left edge of the window (250, 350)
        >>> t.add(score_file(det, [300]))
        >>> {k: round(v, 1) for k, v in t.normalised().items()}
        {'standard': 100.0, 'lowfp': 100.0, 'lowfn': 100.0}
        """
        out = {}
        for name in self.files[0].raw if self.files else ():
            s = sum(f.raw[name] for f in self.files)
            null = sum(f.null[name] for f in self.files)
            perfect = sum(f.perfect[name] for f in self.files)
            out[name] = 100 * (s - null) / (perfect - null) if perfect != null else 0.0
        return out
