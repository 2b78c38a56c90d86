"""From a raw anomaly score to a calibrated likelihood and one alarm per incident.

A raw score (the PCA monitor's T^2+Q, say) has a scale of its own on every series: a
maximum of 1.8 on one file and 998 on another, so no single limit serves a fleet. Here it
becomes a number in [0, 1] that means the same rarity on every series, and the alarm is
decided on that number with hysteresis, so that an incident raises one alarm, not one per
row above a limit.

Calibration (:class:`TailCalibrator`)
    ``likelihood = P(score < raw)``, estimated causally on a running history of the
    series' own healthy scores: the empirical fraction of the history below ``raw`` up to
    the history's ``tail_quantile``, and beyond it an exponential tail fitted to the
    excesses over that quantile (peaks over threshold, the generalised Pareto with shape 0),
    so that rarities beyond anything in the history can still be told apart. Both are
    taken on ``log1p(raw)``, whose tail is exponential when the raw score's is a power law
    and lighter when it is chi-square-like, so the estimate is right or errs towards "less
    rare" (fewer false alarms). A likelihood
    of 0.9999 therefore says "about 1 row in 10,000 of this series scores higher", on every
    series. The history is the training rows' scores, then every later row that was not in
    alarm (learning continues, flagged rows are left out), at most ``history_rows`` of them.

Alarm (:class:`HysteresisAlarm`)
    An incident starts on the first row whose likelihood exceeds ``threshold`` (that row is
    the *onset*, the only row reported as an anomaly) and ends after ``release_rows``
    consecutive rows below ``release``. An incident that lasts ``relearn_rows`` rows is
    taken as a lasting change of level: the history restarts from the incident's own
    scores and the alarm ends, instead of alarming forever.

Both run one row at a time with state carried forward: causal and streaming.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detection.errors import InvalidInputError
from detection.library.base import check_is_fitted

__all__ = ["AlarmPolicy", "TailCalibrator", "HysteresisAlarm", "AlarmStream", "AlarmResult",
           "run_alarm"]

FloatArray = NDArray[np.float64]


class AlarmPolicy(BaseModel):
    """The ``[alarm]`` table of ``policies/offline.toml`` and ``policies/stream.toml`` (each
    number's reason is there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(gt=0, lt=1)
    release: float = Field(gt=0, lt=1)
    release_rows: int = Field(ge=1)
    relearn_rows: int = Field(ge=2)
    history_rows: int = Field(ge=10)
    refresh_rows: int = Field(ge=1)
    tail_quantile: float = Field(gt=0, lt=1)
    min_scale: float = Field(gt=0)

    @model_validator(mode="after")
    def _release_below_threshold(self) -> AlarmPolicy:
        if self.release > self.threshold:
            raise ValueError(f"release ({self.release}) must not exceed threshold "
                             f"({self.threshold})")
        return self


def _phi(z: float) -> float:
    """Standard normal distribution function; ``erfc`` keeps the upper tail's digits."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


class TailCalibrator:
    """Raw score -> likelihood in [0, 1]: empirical distribution of the score's running
    history, with an exponential tail beyond its ``tail_quantile``.

    Parameters
    ----------
    history_rows : int
        Most recent healthy scores kept.
    refresh_rows : int
        The reference is rebuilt after this many new healthy scores (sorting a few
        thousand values per row would dominate the run time; it moves slowly anyway).
    tail_quantile : float
        Where the empirical distribution hands over to the fitted exponential tail.
    min_scale : float
        Floor of the tail's scale on ``log1p(raw)``: a flat series has no spread, and any
        wiggle would otherwise be infinitely rare.

    Attributes
    ----------
    sorted_ : ndarray
        The history of ``log1p(raw)``, sorted.
    tail_start_, tail_scale_ : float
        Start (the ``tail_quantile`` of the history) and mean excess of the exponential tail.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cal = TailCalibrator(history_rows=1000, refresh_rows=50, tail_quantile=0.9,
    ...                      min_scale=0.01)
    >>> cal = cal.fit(rng.chisquare(2, 400))
    >>> [round(cal.likelihood(r), 4) for r in (2.0, 10.0, 20.0)]
    [0.58, 0.9884, 0.9989]

    (the exact values for this chi-square are 0.632, 0.9933 and 0.99995: an exponential
    tail on the log scale errs towards "less rare", hence fewer false alarms.)
    """

    def __init__(self, *, history_rows: int, refresh_rows: int, tail_quantile: float,
                 min_scale: float) -> None:
        self.history_rows = history_rows
        self.refresh_rows = refresh_rows
        self.tail_quantile = tail_quantile
        self.min_scale = min_scale

    def __repr__(self) -> str:
        return (f"TailCalibrator(history_rows={self.history_rows!r}, "
                f"refresh_rows={self.refresh_rows!r}, tail_quantile={self.tail_quantile!r}, "
                f"min_scale={self.min_scale!r})")

    def fit(self, healthy_raw: ArrayLike) -> TailCalibrator:
        """Start the history from healthy raw scores (non-finite ones are skipped)."""
        if not 0 < self.tail_quantile < 1 or self.min_scale <= 0 or self.history_rows < 2:
            raise InvalidInputError("need 0 < tail_quantile < 1, min_scale > 0, "
                                    "history_rows >= 2")
        u = np.log1p(np.maximum(np.asarray(healthy_raw, dtype=np.float64), 0.0))
        u = u[np.isfinite(u)]
        if u.size < 2:
            raise InvalidInputError("need at least 2 healthy scores to calibrate")
        self._history: deque[float] = deque(u[-self.history_rows:].tolist(),
                                            maxlen=self.history_rows)
        self._refresh()
        return self

    def restart(self, raw: ArrayLike) -> None:
        """Forget the history and start again from ``raw`` (a new level of the series)."""
        self._history.clear()
        self.fit(raw)

    def _refresh(self) -> None:
        h = np.sort(np.fromiter(self._history, dtype=np.float64))
        q = float(np.quantile(h, self.tail_quantile))
        excess = h[h > q] - q
        # Median excess / ln 2 is the exponential's mean, robust to a stray large value.
        beta = float(np.median(excess)) / math.log(2.0) if excess.size else 0.0
        self.sorted_, self.tail_start_, self.tail_scale_ = h, q, max(beta, self.min_scale)
        self._since = 0

    def likelihood(self, raw: float) -> float:
        """Estimated ``P(score < raw)`` on this series' history; NaN for a non-finite ``raw``."""
        check_is_fitted(self, ("sorted_",))
        if not math.isfinite(raw):
            return math.nan
        u = math.log1p(max(raw, 0.0))
        if u <= self.tail_start_:
            below = int(np.searchsorted(self.sorted_, u, side="left"))
            return min(below / self.sorted_.size, self.tail_quantile)
        tail = (1.0 - self.tail_quantile) * math.exp(-(u - self.tail_start_) / self.tail_scale_)
        return 1.0 - tail

    def learn(self, raw: float) -> None:
        """Add a healthy score to the history."""
        check_is_fitted(self, ("sorted_",))
        if math.isfinite(raw):
            self._history.append(math.log1p(max(raw, 0.0)))
            self._since += 1
            if self._since >= self.refresh_rows:
                self._refresh()


class HysteresisAlarm:
    """One alarm per incident: enter above ``threshold``, leave after ``release_rows``
    consecutive rows below ``release``.

    Examples
    --------
    >>> alarm = HysteresisAlarm(threshold=0.99, release=0.9, release_rows=2)
    >>> [alarm.classify(p) for p in (0.5, 0.995, 0.95, 0.999, 0.5, 0.5, 0.5, 0.995)]
    [False, True, False, False, False, False, False, True]
    >>> alarm.active
    True
    """

    def __init__(self, *, threshold: float, release: float, release_rows: int) -> None:
        self.threshold = threshold
        self.release = release
        self.release_rows = release_rows
        self.active = False  # inside an incident
        self.rows_active = 0  # rows since the current incident opened
        self._below = 0

    def __repr__(self) -> str:
        return (f"HysteresisAlarm(threshold={self.threshold!r}, release={self.release!r}, "
                f"release_rows={self.release_rows!r})")

    def classify(self, likelihood: float | None) -> bool:
        """Advance one row; ``True`` on the row that opens an incident only."""
        if likelihood is None or not math.isfinite(likelihood):
            return False  # an unscored row neither opens nor closes an incident
        if not self.active:
            if likelihood > self.threshold:
                self.active, self.rows_active, self._below = True, 1, 0
                return True
            return False
        self.rows_active += 1
        self._below = self._below + 1 if likelihood < self.release else 0
        if self._below >= self.release_rows:
            self.active = False
        return False

    def end(self) -> None:
        """Close the current incident without waiting for the release."""
        self.active = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmResult:
    likelihood: FloatArray  # NaN where not scored (training rows, warm-up)
    onset: NDArray[np.bool_]  # the first row of each incident
    in_alarm: NDArray[np.bool_]  # every row inside an incident
    relearned: int  # incidents ended by re-learning a new level

    @property
    def incidents(self) -> int:
        return int(self.onset.sum())


class AlarmStream:
    """:class:`TailCalibrator` and :class:`HysteresisAlarm` together, one raw score at a
    time: calibrate, decide, and learn the score when it is not in alarm.

    ``step`` returns the likelihood, whether the row opens an incident, and whether the
    incident has now lasted ``relearn_rows`` rows (a lasting change: the caller re-learns
    and calls :meth:`end`).

    Examples
    --------
    >>> import numpy as np
    >>> pol = AlarmPolicy(threshold=0.999, release=0.9, release_rows=2, relearn_rows=50,
    ...                   history_rows=500, refresh_rows=10, tail_quantile=0.9,
    ...                   min_scale=0.02)
    >>> s = AlarmStream(pol, np.random.default_rng(0).chisquare(2, 300))
    >>> [s.step(r)[1] for r in (1.0, 2.0, 80.0, 70.0, 1.0, 1.0, 1.0, 90.0)]
    [False, False, True, False, False, False, False, True]
    """

    def __init__(self, policy: AlarmPolicy, healthy_raw: ArrayLike) -> None:
        self.policy = policy
        self.calibrator = TailCalibrator(
            history_rows=policy.history_rows, refresh_rows=policy.refresh_rows,
            tail_quantile=policy.tail_quantile, min_scale=policy.min_scale).fit(healthy_raw)
        self.alarm = HysteresisAlarm(threshold=policy.threshold, release=policy.release,
                                     release_rows=policy.release_rows)

    def step(self, raw: float) -> tuple[float, bool, bool]:
        """``(likelihood, onset, lasting)`` of one raw score (NaN: unscored row)."""
        p = self.calibrator.likelihood(raw) if math.isfinite(raw) else math.nan
        onset = self.alarm.classify(p)
        if not self.alarm.active:
            self.calibrator.learn(raw)
        lasting = self.alarm.active and self.alarm.rows_active >= self.policy.relearn_rows
        return p, onset, lasting

    @property
    def active(self) -> bool:
        return self.alarm.active

    def end(self) -> None:
        """End the incident (after the caller re-learnt a lasting change)."""
        self.alarm.end()


def run_alarm(raw: ArrayLike, *, start: int, healthy: NDArray[np.bool_],
              policy: AlarmPolicy) -> AlarmResult:
    """Calibrate ``raw[start:]`` against a history started from ``raw[healthy]`` (rows
    before ``start``) and raise one alarm per incident. Rows before ``start`` are not
    scored: they trained the model, and scoring them would not be causal."""
    r = np.asarray(raw, dtype=np.float64)
    n = r.size
    if not 0 < start <= n:
        raise InvalidInputError(f"start must be in 1..{n}, got {start}")
    stream = AlarmStream(policy, r[:start][healthy[:start]])
    likelihood = np.full(n, np.nan)
    onset = np.zeros(n, dtype=bool)
    in_alarm = np.zeros(n, dtype=bool)
    relearned = 0
    for t in range(start, n):
        likelihood[t], onset[t], lasting = stream.step(float(r[t]))
        in_alarm[t] = stream.active
        if lasting:
            # A lasting change of level: what is abnormal now is the new normal.
            stream.calibrator.restart(r[t - policy.relearn_rows + 1: t + 1])
            stream.end()
            relearned += 1
    return AlarmResult(likelihood=likelihood, onset=onset, in_alarm=in_alarm,
                       relearned=relearned)
