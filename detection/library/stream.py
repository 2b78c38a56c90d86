"""A streaming detector for series it was never tuned on: ``robowatch detect csv``'s model.

One row at a time, every column is forecast from what came before it and the forecast
error is judged on the column's own learnt noise:

``forecast = level + trend * steps + daily(hour of day) + weekly(day of week)``

- *level and trend* (Holt's linear smoothing) follow slow changes; their updates are
  clipped at ``huber_c`` noise scales, so a spike barely moves them while a lasting level
  shift or trend is absorbed within a few hundred rows;
- *daily and weekly rhythms* are learnt from the timestamps (24 hourly knots, linearly
  interpolated, and one offset per day of the week), so a rhythm longer than the warm-up is
  not an anomaly once it has been seen; both are off when the timestamps do not parse or
  the sampling is too coarse for them;
- *irregular sampling and gaps*: the trend advances by the elapsed time in units of the
  median sampling interval (capped), and a gap (``gap_factor`` median intervals) restarts
  the short memories (CUSUM, variance, repeated values) instead of comparing across it;
- *count data* (non-negative integers in the warm-up) are scored after Anscombe's
  transform ``2 sqrt(x + 3/8)``, whose noise is about 1 for a Poisson count, so a burst of
  counts is judged against Poisson noise and a sparse series of zeros is not "flat".

Four views of the error, each scaled so that 1 is "at its classical limit", and the raw
score of a row is the largest over views and columns:

1. the point: ``|error| / scale`` over ``z_limit`` (spikes);
2. a two-sided CUSUM of the clipped standardised error (allowance ``cusum_k``) over
   ``cusum_h``, capped at twice that so it forgets within a few dozen rows (small level
   shifts, the start of a drift);
3. the variance: an EWMA of the squared standardised error against its null spread, over
   ``var_limit`` (noise that grows);
4. repeated values: ``-log10 P(a run this long)`` from the column's own rate of repeats and
   of repeats after a repeat, over ``stuck_limit`` (a stuck sensor); a flat series repeats
   always and scores 0.

The raw score then goes through :class:`detection.library.alarm.AlarmStream` (calibrated
likelihood in [0, 1], one alarm per incident). The noise scale, rhythms and repeat rates
learn only from rows outside an alarm; level and trend keep learning (clipped), and an
alarm that lasts ``relearn_rows`` rows re-learns level, trend and scale from the recent
rows: a lasting change becomes the new normal instead of an alarm forever; after it, a row
is also scored against the normal before that incident and the lower score counts, so a
return to where the series was is not a new incident.

Label-blind and causal: row t is scored from rows < t, then learnt.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detection.errors import InvalidInputError
from detection.library.alarm import AlarmPolicy, AlarmResult, AlarmStream
from detection.policies import load_policy_file
from detection.robust import MAD_TO_SIGMA

__all__ = ["StreamPolicy", "load_stream_policy", "SeasonalForecaster", "run_stream",
           "StreamResult", "elapsed_seconds"]

FloatArray = NDArray[np.float64]
_DAY_S, _WEEK_DAYS = 86400.0, 7
# 1.2533 = sqrt(pi / 2): mean absolute deviation -> standard deviation of a normal.
_MEAN_ABS_TO_SIGMA = math.sqrt(math.pi / 2)
_SLOPE_SE = 4.0
_LINE_FIT = 3.0  # residual spread around the line, in noise scales, still taken as a line
_RAW_CAP = 50.0  # 250 noise scales: far beyond any threshold, far below exp() overflow
# The running noise scale stays above this share of the one estimated from first
# differences (warm-up, re-learning). It is an EWMA of errors clipped at huber_c scales,
# which collapses on a quantised signal that steps by one quantum on a quarter of its rows
# (SKAB's flow rate: 0.41 from the differences, 0.06 after 150 rows, so every step scored
# 13 scales and that column set every row's score).
_SCALE_KEEP = 0.5
_HEAD_MEDIANS = 2.0  # warm-up scores beyond 2 x their median (and 1) are not healthy


class StreamPolicy(BaseModel):
    """``policies/stream.toml`` (each number's reason is in the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label_columns: tuple[str, ...]
    warmup_rows: int = Field(ge=20)
    level_alpha: float = Field(gt=0, le=1)
    trend_beta: float = Field(ge=0, le=1)
    scale_alpha: float = Field(gt=0, le=1)
    season_alpha: float = Field(gt=0, le=1)
    huber_c: float = Field(gt=0)
    z_limit: float = Field(gt=0)
    cusum_k: float = Field(ge=0)
    cusum_h: float = Field(gt=0)
    var_alpha: float = Field(gt=0, lt=1)
    var_limit: float = Field(gt=0)
    stuck_limit: float = Field(gt=0)
    repeat_memory: float = Field(gt=0, lt=1)
    gap_factor: float = Field(gt=1)
    max_trend_steps: float = Field(ge=1)
    slow_alpha: float = Field(gt=0, le=1)
    drift_limit: float = Field(gt=0)
    rel_scale_floor: float = Field(gt=0)
    alarm: AlarmPolicy


    @field_validator("label_columns")
    @classmethod
    def _lower(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n.lower() for n in names)


def load_stream_policy(path: Path | None = None) -> StreamPolicy:
    """Read a stream policy TOML (default: the packaged ``policies/stream.toml``)."""
    return load_policy_file(StreamPolicy, "stream.toml", path)


def elapsed_seconds(timestamps: object, n: int) -> FloatArray | None:
    """Seconds since the first row, or ``None`` when the timestamps do not parse as
    increasing date-times (rows are then taken as evenly spaced and rhythms are off)."""
    import pandas as pd

    try:
        ts = pd.to_datetime(pd.Series(timestamps), errors="coerce", utc=True)
    except (TypeError, ValueError, OverflowError):
        return None
    if len(ts) != n or ts.isna().mean() > 0.01:
        return None
    # Seconds since the epoch keep the hour and the weekday (the unit of the parsed
    # datetimes varies with pandas' inference, so no integer cast); a few unparsable rows
    # are given their predecessor's time.
    epoch = pd.Timestamp(0, tz="UTC")
    s: FloatArray = (ts.ffill().bfill() - epoch).dt.total_seconds().to_numpy(dtype=np.float64)
    if n > 1 and np.any(np.diff(s) < 0):
        return None
    return s


class SeasonalForecaster:
    """Per-column forecast state (see the module's docstring); vectorised over columns.

    Parameters
    ----------
    policy : StreamPolicy
        The numbers.

    Examples
    --------
    >>> import numpy as np
    >>> pol = load_stream_policy()
    >>> rng = np.random.default_rng(0)
    >>> X = (5 + rng.normal(0, 1, 400))[:, None]
    >>> f = SeasonalForecaster(policy=pol).fit(X[:200], None)
    >>> [round(f.score_one(x, None), 2) for x in (X[200], X[201] + 10)]  # 1 = at a limit
    [0.12, 1.93]
    """

    def __init__(self, *, policy: StreamPolicy) -> None:
        self.policy = policy

    # -- learning -----------------------------------------------------------------------
    def fit(self, X: FloatArray, seconds: FloatArray | None) -> SeasonalForecaster:
        """Start from the warm-up rows ``X`` (rows x columns, NaN = missing)."""
        p = self.policy
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise InvalidInputError("need at least 2 warm-up rows")
        d = X.shape[1]
        finite = np.isfinite(X)
        self.count_ = np.array([bool(finite[:, j].any()) and bool(
            np.all(X[finite[:, j], j] >= 0) and np.all(X[finite[:, j], j] % 1 == 0))
            for j in range(d)])
        Y = self._transform(X)
        dts = np.diff(seconds) if seconds is not None else np.ones(0)
        dts = dts[dts > 0]
        self.dt_ = float(np.median(dts)) if dts.size else 1.0
        self.seconds_known_ = seconds is not None
        self.daily_on_ = self.seconds_known_ and self.dt_ <= _DAY_S / 8
        self.weekly_on_ = self.seconds_known_ and self.dt_ <= _DAY_S / 2
        med = np.array([np.median(Y[np.isfinite(Y[:, j]), j]) if np.isfinite(Y[:, j]).any()
                        else 0.0 for j in range(d)])
        diffs = np.diff(Y, axis=0)
        scale = np.empty(d)
        spread = np.empty(d)
        for j in range(d):
            yj = Y[np.isfinite(Y[:, j]), j]
            scale[j] = _diff_scale(diffs[np.isfinite(diffs[:, j]), j])
            q75, q25 = (np.percentile(yj, [75, 25]) if yj.size else (0.0, 0.0))
            spread[j] = max(float(q75 - q25), float(yj.max() - yj.min()) if yj.size else 0.0)
        # A flat series has no noise at all; any wiggle is then judged against a tiny
        # fraction of its range or magnitude, and counts against Poisson noise.
        self.floor_ = np.maximum(p.rel_scale_floor * np.maximum(spread, np.abs(med) * 1e-3),
                                 1e-12)
        self.floor_ = np.where(self.count_, np.maximum(self.floor_, 0.5), self.floor_)
        self.scale_ = np.maximum(scale, self.floor_)
        self.scale_min_ = np.maximum(_SCALE_KEEP * scale, self.floor_)
        rows = np.arange(Y.shape[0], dtype=np.float64)
        self.trend_ = np.array([_robust_slope(Y[:, j], rows, float(self.scale_[j]))
                                for j in range(d)])
        # The level as of the first row, which is where learning starts.
        self.level_ = np.array([float(np.nanmedian(Y[:, j] - self.trend_[j] * rows))
                                if np.isfinite(Y[:, j]).any() else 0.0 for j in range(d)])
        self.slow_ = self.level_.copy()
        self.drift_scale_ = np.zeros(d)
        self.daily_ = np.zeros((d, 24))
        self.daily_n_ = np.zeros(24)
        self.weekly_ = np.zeros((d, _WEEK_DAYS))
        self.weekly_n_ = np.zeros(_WEEK_DAYS)
        self._reset_short(d)
        self.pairs_ = np.ones(d)  # decayed counts of value pairs, repeats, repeat-after-repeat
        self.repeats_ = np.zeros(d)
        self.repeats2_ = np.zeros(d)
        self.last_x_ = np.full(d, np.nan)
        self.last_s_: float | None = None
        self.n_ = 0
        for i in range(X.shape[0]):
            self.learn_one(X[i], None if seconds is None else float(seconds[i]), in_alarm=False)
        return self

    def _reset_short(self, d: int) -> None:
        self.cusum_hi_ = np.zeros(d)
        self.cusum_lo_ = np.zeros(d)
        self.var_ = np.ones(d)
        self.run_ = np.zeros(d)
        self.prev_repeat_ = np.zeros(d, dtype=bool)

    def _transform(self, X: FloatArray) -> FloatArray:
        X = np.asarray(X, dtype=np.float64)
        return np.where(self.count_, 2.0 * np.sqrt(np.maximum(X, 0.0) + 0.375), X)

    def _steps(self, s: float | None) -> float:
        if s is None or self.last_s_ is None or not self.seconds_known_:
            return 1.0
        return min(max(s - self.last_s_, 0.0) / self.dt_, self.policy.max_trend_steps)

    def _gap(self, s: float | None) -> bool:
        return (s is not None and self.last_s_ is not None
                and s - self.last_s_ > self.policy.gap_factor * self.dt_)

    def _season(self, s: float | None) -> tuple[FloatArray, int, int, float, int]:
        """The seasonal part of the forecast, and where ``s`` falls (knots, weight, day)."""
        if s is None or not self.daily_on_:
            k0 = k1 = day = -1
            w = 0.0
            season = np.zeros(self.level_.size)
        else:
            hour = (s % _DAY_S) / 3600.0
            k0, w = int(hour) % 24, hour - int(hour)
            k1 = (k0 + 1) % 24
            season = (1 - w) * self.daily_[:, k0] + w * self.daily_[:, k1]
        if s is not None and self.weekly_on_:
            # 1970-01-01 was a Thursday: + 3 makes Monday day 0.
            day = int((s // _DAY_S + 3) % _WEEK_DAYS)
            season = season + self.weekly_[:, day]
        return season, k0, k1, w, day

    def learn_one(self, x: FloatArray, s: float | None, *, in_alarm: bool) -> None:
        """Learn one row. Inside an alarm only level and trend move (clipped)."""
        p = self.policy
        y = self._transform(x)
        ok = np.isfinite(y)
        steps = self._steps(s)
        gap = self._gap(s)
        season, k0, k1, w, day = self._season(s)
        base = self.level_ + self.trend_ * steps
        err = y - base - season
        clip = p.huber_c * self.scale_
        e = np.where(ok, np.clip(err, -clip, clip), 0.0)
        warm = 1.0 / (self.n_ + 2)  # a running mean while young, then the EWMA
        a_l = max(p.level_alpha, warm)
        new_level = np.where(ok, base + a_l * e, self.level_)
        self.trend_ = np.where(ok, self.trend_ + p.trend_beta * a_l * e / steps, self.trend_)
        self.level_ = new_level
        slow_base = self.slow_ + self.trend_ * steps
        slow_e = np.clip(y - season - slow_base, -clip, clip)
        self.slow_ = np.where(ok, slow_base + max(p.slow_alpha, warm) * slow_e, self.slow_)
        # The spread of level - slow level when nothing is wrong: at least what the noise
        # alone gives (the level's EWMA spread), more where a rhythm the model has not
        # captured moves the level.
        a = p.level_alpha
        null = self.scale_ * math.sqrt(a / (2 - a))
        if not in_alarm:
            gap_now = _MEAN_ABS_TO_SIGMA * np.abs(self.level_ - self.slow_)
            a_s = max(p.scale_alpha, warm)
            self.drift_scale_ = np.where(ok, (1 - a_s) * self.drift_scale_ + a_s * gap_now,
                                         self.drift_scale_)
        self.drift_scale_ = np.maximum(self.drift_scale_, null)
        if not in_alarm:
            a_s = max(p.scale_alpha, warm)
            sigma = _MEAN_ABS_TO_SIGMA * np.abs(e)
            self.scale_ = np.where(ok, np.maximum((1 - a_s) * self.scale_ + a_s * sigma,
                                                  self.scale_min_), self.scale_)
        # Rhythms learn outside alarms only, from the clipped error (a spike would otherwise
        # return every day at its hour). Letting young slots learn inside alarms too (so
        # that a first weekend is learnt at once) let a weekday's offset take up a level
        # shift, which then alarmed again on the next weekday: suite NAB 88.4 against 89.7.
        clipped = e - a_l * e  # what the level did not take
        if k0 >= 0 and not in_alarm:
            for k, wk in ((k0, 1 - w), (k1, w)):
                a = max(p.season_alpha, 1.0 / (self.daily_n_[k] + 1)) * wk
                self.daily_[:, k] = np.where(ok, self.daily_[:, k] + a * clipped,
                                             self.daily_[:, k])
                self.daily_n_[k] += wk
        # Weekday offsets wait until the daily knots are learnt (two visits each): learnt
        # beside young knots they take up part of the daily shape, and the next week's
        # same weekday then looks off (a noise-free daily rhythm alarmed in its 2nd week).
        daily_ready = not self.daily_on_ or bool(
            self.daily_n_.min() >= 2 * max(3600.0 / self.dt_, 1.0))
        if day >= 0 and daily_ready and not in_alarm:
            a = max(p.season_alpha, 1.0 / (self.weekly_n_[day] + 1))
            self.weekly_[:, day] = np.where(ok, self.weekly_[:, day] + a * clipped,
                                            self.weekly_[:, day])
            self.weekly_n_[day] += 1
        if gap:
            self._reset_short(self.level_.size)
        else:
            z = np.where(ok, np.clip(err / self.scale_, -p.huber_c * 2, p.huber_c * 2), 0.0)
            cap = 2 * p.cusum_h
            self.cusum_hi_ = np.minimum(np.maximum(0.0, self.cusum_hi_ + z - p.cusum_k), cap)
            self.cusum_lo_ = np.minimum(np.maximum(0.0, self.cusum_lo_ - z - p.cusum_k), cap)
            self.var_ = (1 - p.var_alpha) * self.var_ + p.var_alpha * np.minimum(z * z, 25.0)
            repeat = ok & (x == self.last_x_)
            # Only the start of a run teaches the repeat rates: a stuck sensor's long run
            # would otherwise teach that long runs are normal while it lasts.
            if not in_alarm:
                m = np.where(self.run_ < 2, p.repeat_memory, 1.0)
                learn = self.run_ < 2
                self.pairs_ = m * self.pairs_ + (ok & learn)
                self.repeats_ = m * self.repeats_ + (repeat & learn)
                self.repeats2_ = m * self.repeats2_ + (repeat & self.prev_repeat_ & learn)
            self.run_ = np.where(repeat, self.run_ + 1, 0.0)
            self.prev_repeat_ = repeat
        self.last_x_ = np.where(ok, x, self.last_x_)
        if s is not None:
            self.last_s_ = s
        self.n_ += 1

    # -- scoring ------------------------------------------------------------------------
    def score_one(self, x: FloatArray, s: float | None) -> float | None:
        """Raw score of one row before learning it (the largest over its columns);
        ``None`` when every value is missing."""
        p = self.policy
        y = self._transform(x)
        ok = np.isfinite(y)
        if not ok.any():
            return None
        season = self._season(s)[0]
        steps = self._steps(s)
        err = y - self.level_ - self.trend_ * steps - season
        z = err / self.scale_
        point = np.abs(z) / p.z_limit
        # Fast level against slow level, in null standard deviations of the fast one.
        drift = np.abs(self.level_ - self.slow_) / self.drift_scale_ / p.drift_limit
        point = np.maximum(point, drift)
        if self._gap(s):
            views = point  # the short memories restart after a gap
        else:
            zc = np.clip(z, -p.huber_c * 2, p.huber_c * 2)
            hi = np.maximum(0.0, self.cusum_hi_ + zc - p.cusum_k)
            lo = np.maximum(0.0, self.cusum_lo_ - zc - p.cusum_k)
            cusum = np.minimum(np.maximum(hi, lo), 2 * p.cusum_h) / p.cusum_h
            var = (1 - p.var_alpha) * self.var_ + p.var_alpha * np.minimum(zc * zc, 25.0)
            null_sd = math.sqrt(2 * p.var_alpha / (2 - p.var_alpha))  # EWMA of chi2(1)
            var_score = np.maximum(var - 1.0, 0.0) / null_sd / p.var_limit
            repeat = x == self.last_x_
            run = np.where(repeat, self.run_ + 1, 0.0)
            p1 = (self.repeats_ + 0.5) / (self.pairs_ + 1.0)
            p2 = (self.repeats2_ + 0.1) / (self.repeats_ + 1.0)
            surprise = np.where(run > 0, -np.log10(p1) - (run - 1) * np.log10(p2), 0.0)
            # Counts repeat by nature; a series at its noise floor (flat, noise-free) has
            # nothing that could get stuck.
            noisy = ~self.count_ & (self.scale_ > 2 * self.floor_)
            stuck = np.where(noisy, surprise / p.stuck_limit, 0.0)
            views = np.maximum.reduce([point, cusum, var_score, stuck])
        return float(np.max(np.where(ok, views, 0.0)))

    def relearn(self, X: FloatArray, seconds: FloatArray | None) -> None:
        """Take the recent rows ``X`` as the new normal: level, trend and noise scale
        from them (robust), short memories restarted; rhythms kept."""
        Y = self._transform(np.asarray(X, dtype=np.float64))
        m = Y.shape[0]
        if m < 4:
            return
        times: list[float | None] = ([None] * m if seconds is None
                                     else [float(v) for v in seconds])
        season = np.stack([self._season(v)[0] for v in times])
        R = Y - season
        t = (np.arange(m, dtype=np.float64) if seconds is None
             else (np.asarray(seconds) - seconds[-1]) / self.dt_ + (m - 1))
        for j in range(R.shape[1]):
            ok = np.isfinite(R[:, j])
            if ok.sum() < 4:
                continue
            r, tj = R[ok, j], t[ok]
            # The same estimate as the warm-up's: without its fallback for a MAD of 0, a
            # quantised column (SKAB's) re-learnt a noise scale at its floor and opened a
            # new incident on the next row, every 300 rows to the end of the file.
            sigma = max(_diff_scale(np.diff(r)), float(self.floor_[j]))
            slope = _robust_slope(r, tj, sigma)
            level = float(np.median(r - slope * (tj - tj[-1])))
            self.scale_[j] = sigma
            self.scale_min_[j] = max(_SCALE_KEEP * sigma, float(self.floor_[j]))
            self.level_[j], self.slow_[j], self.trend_[j] = level, level, slope
        self._reset_short(self.level_.size)


def _diff_scale(d: FloatArray) -> float:
    """Noise scale from first differences ``d`` (finite): blind to a level shift, a trend
    or a slow rhythm; 1.4826 MAD, or the standard deviation where the MAD is 0 (a
    quantised signal), over sqrt(2) because a difference carries the noise of two rows."""
    if not d.size:
        return 0.0
    mad = float(np.median(np.abs(d - np.median(d))))
    return (MAD_TO_SIGMA * mad if mad > 0 else float(d.std())) / math.sqrt(2.0)


def _robust_slope(y: FloatArray, t: FloatArray, sigma: float) -> float:
    """Median of the changes over half the window per unit of ``t`` (NaN skipped), or 0
    unless it is ``_SLOPE_SE`` standard errors away from 0 for noise ``sigma`` and a line
    fits the rows (``_LINE_FIT``): a trend
    taken from noise would otherwise be extrapolated forever (a 150-row warm-up of white
    noise gave a slope that put the forecast 6 noise scales off 2,000 rows later)."""
    ok = np.isfinite(y)
    y, t = y[ok], t[ok]
    h = y.size // 2
    if h < 2:
        return 0.0
    dt = np.maximum(t[h:] - t[:-h], 1e-9)
    slope = float(np.median((y[h:] - y[:-h]) / dt))
    # Each change has the noise of two values; the median of h of them ~1.25x the mean's.
    se = _MEAN_ABS_TO_SIGMA * math.sqrt(2.0) * sigma / float(np.median(dt)) / math.sqrt(h)
    if abs(slope) <= _SLOPE_SE * se:
        return 0.0
    # A line must explain the rows: what is left around it should be noise. Half a daily
    # cycle in the warm-up also has a slope, which extrapolated would be wrong within hours.
    left = y - slope * t
    spread = MAD_TO_SIGMA * float(np.median(np.abs(left - np.median(left))))
    return slope if spread <= _LINE_FIT * max(sigma, 1e-12) else 0.0


def _healthy_head(head: FloatArray) -> NDArray[np.bool_]:
    """Which out-of-sample warm-up scores start the calibration's history.

    A warm-up row past a view's limit (raw > 1) is normally not a healthy score: a spike
    there would widen the tail and hide the next incident. But on a series the forecaster
    does not fit well (SKAB's quantised flow-rate column, whose rare steps the noise scale
    underestimates), raw > 1 is the norm: every warm-up row was dropped there, the
    calibration started from nothing, and the first scored row of 30 of SKAB's 34 files
    opened an incident that never closed (38 onsets outside incidents, F1 0.70). So the
    limit is the larger of 1 and ``_HEAD_MEDIANS`` times the warm-up's median score: a
    spike and the rows its memory colours are still left out (the median barely moves), a
    series' normal is not. (Median + 6 robust standard deviations let a warm-up spike's
    aftermath into the history, which then hid a 10-sigma incident.)
    """
    ok = np.isfinite(head)
    if not ok.any():
        return ok
    return ok & (head <= max(1.0, _HEAD_MEDIANS * float(np.median(head[ok]))))


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamResult:
    raw: FloatArray  # NaN where not scored
    alarm: AlarmResult


def run_stream(X: FloatArray, seconds: FloatArray | None, policy: StreamPolicy) -> StreamResult:
    """Score every row of ``X`` after the warm-up, one at a time (causal, streaming)."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    w = policy.warmup_rows
    if n <= w:
        raise InvalidInputError(f"need more than {w} rows (the warm-up), got {n}")
    model = SeasonalForecaster(policy=policy).fit(X[: w // 2],
                                                  None if seconds is None else seconds[: w // 2])
    raw = np.full(n, np.nan)
    # The second half of the warm-up is scored before it is learnt (out of sample), and
    # starts the calibration's history of healthy scores.
    for i in range(w // 2, w):
        s = None if seconds is None else float(seconds[i])
        r = model.score_one(X[i], s)
        raw[i] = math.nan if r is None else r
        model.learn_one(X[i], s, in_alarm=False)
    # The views are standardised errors with Gaussian-like tails; the calibrator fits an
    # exponential tail to log1p of what it is given, so it is given expm1(raw): its tail is
    # then fitted on the views themselves (on log1p(raw) a 9-sigma spike stayed under
    # 0.99999 on the suite's spikes series). Capped so that exp() cannot overflow.
    cal = np.expm1(np.minimum(raw, _RAW_CAP))
    healthy = cal[w // 2: w][_healthy_head(raw[w // 2: w])]
    stream = AlarmStream(policy.alarm, healthy if healthy.size >= 2 else np.zeros(2))
    likelihood = np.full(n, np.nan)
    onset = np.zeros(n, dtype=bool)
    in_alarm = np.zeros(n, dtype=bool)
    recent: deque[int] = deque(maxlen=policy.alarm.relearn_rows)
    relearned = 0
    # The normal before the last re-learnt change (the model as that incident opened).
    # After a re-learnt change a row is scored against both normals and the lower score
    # counts: a series that comes back to where it was (SKAB's valve closed for 400 rows,
    # re-learnt after 300, then opened again) is not a new incident, while a spike is off
    # both. It took SKAB's onsets outside incidents from 16 to 12 (docs/detection.md).
    previous: SeasonalForecaster | None = None
    at_onset: SeasonalForecaster | None = None
    for i in range(w, n):
        s = None if seconds is None else float(seconds[i])
        r = model.score_one(X[i], s)
        if previous is not None and r is not None:
            r_prev = previous.score_one(X[i], s)
            r = r if r_prev is None else min(r, r_prev)
        raw[i] = math.nan if r is None else r
        likelihood[i], onset[i], lasting = stream.step(math.expm1(min(raw[i], _RAW_CAP)))
        in_alarm[i] = stream.active
        recent.append(i)
        if onset[i]:
            at_onset = copy.deepcopy(model)
        model.learn_one(X[i], s, in_alarm=stream.active)
        if lasting:
            rows = np.fromiter(recent, dtype=np.int64)
            model.relearn(X[rows], None if seconds is None else seconds[rows])
            stream.end()
            relearned += 1
            previous = at_onset
    return StreamResult(raw=raw, alarm=AlarmResult(likelihood=likelihood, onset=onset,
                                                   in_alarm=in_alarm, relearned=relearned))
