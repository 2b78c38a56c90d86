"""From a raw anomaly score to a calibrated likelihood and one alarm per incident.

A raw score (the PCA monitor's T^2+Q, say) has a scale of its own on every series: a
maximum of 1.8 on one file and 998 on another, so no single limit serves a fleet. Here it
becomes a number in [0, 1] that means the same rarity on every series, and the alarm is
decided on that number with hysteresis, so that an incident raises one alarm, not one per
row above a limit.

Calibration (:class:`TailCalibrator`)
    ``u = log1p(raw)`` is compared with a running history of its own past healthy values:
    ``z = (u - median) / (1.4826 * MAD)`` and ``likelihood = Phi(z)``, the standard normal
    distribution function. A likelihood of 0.9999 therefore says "3.7 robust standard
    deviations above what this series usually scores", on every series. The logarithm
    makes the right-skewed, positive raw score nearly symmetric, so that median and MAD
    describe it; median and MAD ignore the few anomalies the history may still hold. The
    history is the training rows' scores, then every later row that was not in alarm
    (learning continues, flagged rows are left out), at most ``history_rows`` of them.

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
from detection.robust import MAD_TO_SIGMA

__all__ = ["AlarmPolicy", "TailCalibrator", "HysteresisAlarm", "AlarmResult", "run_alarm"]

FloatArray = NDArray[np.float64]


class AlarmPolicy(BaseModel):
    """The ``[alarm]`` table of ``policies/offline.toml`` (each number's reason is there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(gt=0, lt=1)
    release: float = Field(gt=0, lt=1)
    release_rows: int = Field(ge=1)
    relearn_rows: int = Field(ge=2)
    history_rows: int = Field(ge=10)
    refresh_rows: int = Field(ge=1)
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
    """Raw score -> likelihood in [0, 1] against a running robust history of the score.

    Parameters
    ----------
    history_rows : int
        Most recent healthy scores kept.
    refresh_rows : int
        The median and MAD are recomputed after this many new healthy scores (a median of
        a few thousand values per row would dominate the run time; the reference moves
        slowly anyway).
    min_scale : float
        Floor of the robust scale of ``log1p(raw)``: a flat series has a MAD of 0, and
        any wiggle would otherwise be infinitely rare.

    Attributes
    ----------
    median_, scale_ : float
        The current reference of ``log1p(raw)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cal = TailCalibrator(history_rows=1000, refresh_rows=50, min_scale=0.01)
    >>> cal = cal.fit(rng.chisquare(2, 400))
    >>> [round(cal.likelihood(r), 3) for r in (0.5, 2.0, 30.0)]
    [0.187, 0.617, 1.0]
    """

    def __init__(self, *, history_rows: int, refresh_rows: int, min_scale: float) -> None:
        self.history_rows = history_rows
        self.refresh_rows = refresh_rows
        self.min_scale = min_scale

    def fit(self, healthy_raw: ArrayLike) -> TailCalibrator:
        """Start the history from healthy raw scores (non-finite ones are skipped)."""
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
        h = np.fromiter(self._history, dtype=np.float64)
        self.median_ = float(np.median(h))
        self.scale_ = max(MAD_TO_SIGMA * float(np.median(np.abs(h - self.median_))),
                          self.min_scale)
        self._since = 0

    def likelihood(self, raw: float) -> float:
        """``Phi((log1p(raw) - median_) / scale_)``; NaN for a non-finite ``raw``."""
        if not math.isfinite(raw):
            return math.nan
        return _phi((math.log1p(max(raw, 0.0)) - self.median_) / self.scale_)

    def learn(self, raw: float) -> None:
        """Add a healthy score to the history."""
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
    >>> [alarm.step(p) for p in (0.5, 0.995, 0.95, 0.999, 0.5, 0.5, 0.5, 0.995)]
    [False, True, False, False, False, False, False, True]
    >>> alarm.active
    True
    """

    def __init__(self, *, threshold: float, release: float, release_rows: int) -> None:
        self.threshold = threshold
        self.release = release
        self.release_rows = release_rows
        self.active = False
        self.rows_active = 0
        self._below = 0

    def step(self, likelihood: float) -> bool:
        """Advance one row; ``True`` on the row that opens an incident."""
        if not math.isfinite(likelihood):
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


def run_alarm(raw: ArrayLike, *, start: int, healthy: NDArray[np.bool_],
              policy: AlarmPolicy) -> AlarmResult:
    """Calibrate ``raw[start:]`` against a history started from ``raw[healthy]`` (rows
    before ``start``) and raise one alarm per incident. Rows before ``start`` are not
    scored: they trained the model, and scoring them would not be causal."""
    r = np.asarray(raw, dtype=np.float64)
    n = r.size
    if not 0 < start <= n:
        raise InvalidInputError(f"start must be in 1..{n}, got {start}")
    cal = TailCalibrator(history_rows=policy.history_rows, refresh_rows=policy.refresh_rows,
                         min_scale=policy.min_scale).fit(r[:start][healthy[:start]])
    alarm = HysteresisAlarm(threshold=policy.threshold, release=policy.release,
                            release_rows=policy.release_rows)
    likelihood = np.full(n, np.nan)
    onset = np.zeros(n, dtype=bool)
    in_alarm = np.zeros(n, dtype=bool)
    relearned = 0
    for t in range(start, n):
        p = cal.likelihood(float(r[t]))
        likelihood[t] = p
        onset[t] = alarm.step(p)
        in_alarm[t] = alarm.active
        if not alarm.active:
            cal.learn(float(r[t]))
        elif alarm.rows_active >= policy.relearn_rows:
            # A lasting change of level: what is abnormal now is the new normal.
            cal.restart(r[t - policy.relearn_rows + 1: t + 1])
            alarm.end()
            relearned += 1
    return AlarmResult(likelihood=likelihood, onset=onset, in_alarm=in_alarm,
                       relearned=relearned)
