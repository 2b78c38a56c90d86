"""The generalisation suite's series: synthetic, seeded, with known anomalies of every kind.

Each :class:`Series` is what a user would export: timestamps and one or more numeric
columns, plus the rows where an anomaly starts (NAB's labels; the scorer centres its
windows on them). Several kinds have no anomaly at all (a flat line, a noise-free rhythm,
quiet counts): there every detection is a false positive. Sizes are small on purpose (the
whole suite is ~60,000 rows) so that it runs in a few seconds per detector on a shared
machine. Nothing in the detector is tuned per series: the suite is scored with one
configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Series", "suite", "KINDS"]

FloatArray = NDArray[np.float64]
T0 = np.datetime64("2026-03-02T00:00:00")  # a Monday: weekly rhythms start on a weekday


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    name: str
    kind: str  # what is anomalous in it ("none" for the series that must stay silent)
    timestamps: NDArray[np.datetime64]
    values: FloatArray  # rows x columns
    labels: tuple[int, ...]  # rows where an anomaly starts


def _regular(n: int, step_s: float) -> NDArray[np.datetime64]:
    return T0 + (np.arange(n) * step_s * 1000).astype("timedelta64[ms]")


def _daily(ts: NDArray[np.datetime64]) -> FloatArray:
    hours = (ts - T0).astype("timedelta64[s]").astype(np.float64) / 3600.0
    return np.sin(2 * np.pi * (hours % 24) / 24)


def _weekend(ts: NDArray[np.datetime64]) -> NDArray[np.bool_]:
    days = ((ts - T0).astype("timedelta64[s]").astype(np.int64) // 86400) % 7
    return days >= 5


def _spikes(rng: np.random.Generator) -> Series:
    n = 3000
    x = 20 + rng.normal(0, 1, n)
    labels = (900, 1800, 2500)
    for r, sign in zip(labels, (1, -1, 1), strict=True):
        x[r:r + 3] += sign * 9
    return Series(name="spikes", kind="spike", timestamps=_regular(n, 60),
                  values=x[:, None], labels=labels)


def _level_shift(rng: np.random.Generator) -> Series:
    n = 3000
    x = 5 + rng.normal(0, 0.5, n)
    x[1200:] += 3.0  # lasting: after it, the new level is normal
    x[2400:2410] += 4.0  # a spike on the new level must still be found
    return Series(name="level_shift", kind="level_shift", timestamps=_regular(n, 60),
                  values=x[:, None], labels=(1200, 2400))


def _drift(rng: np.random.Generator) -> Series:
    n = 3000
    x = 50 + rng.normal(0, 1, n)
    ramp = np.clip(np.arange(n) - 1300, 0, None) * 0.02  # +6 sigma over 300 rows, lasting
    return Series(name="drift", kind="drift", timestamps=_regular(n, 60),
                  values=(x + ramp)[:, None], labels=(1300,))


def _daily_break(rng: np.random.Generator) -> Series:
    ts = _regular(14 * 96, 900)  # 14 days at 15 min
    x = 100 + 20 * _daily(ts) + rng.normal(0, 2, ts.size)
    day = 96
    x[10 * day:11 * day] = 100 + rng.normal(0, 2, day)  # a day without its rhythm
    return Series(name="daily_break", kind="seasonal_break", timestamps=ts,
                  values=x[:, None], labels=(10 * day,))


def _weekly_break(rng: np.random.Generator) -> Series:
    ts = _regular(6 * 7 * 24, 3600)  # 6 weeks, hourly
    base = 40 + 10 * _daily(ts)
    weekend = _weekend(ts)
    x = np.where(weekend, 15 + 2 * _daily(ts), base) + rng.normal(0, 1.5, ts.size)
    sat = 4 * 7 * 24 + 5 * 24  # the fifth Saturday runs like a weekday
    x[sat:sat + 24] = base[sat:sat + 24] + rng.normal(0, 1.5, 24)
    return Series(name="weekly_break", kind="seasonal_break", timestamps=ts,
                  values=x[:, None], labels=(sat,))


def _variance(rng: np.random.Generator) -> Series:
    n = 3000
    sd = np.ones(n)
    sd[1600:1800] = 4.0
    x = 10 + rng.normal(0, 1, n) * sd
    return Series(name="variance_change", kind="variance_change", timestamps=_regular(n, 60),
                  values=x[:, None], labels=(1600,))


def _stuck(rng: np.random.Generator) -> Series:
    n = 3000
    x = np.round(30 + rng.normal(0, 1, n), 3)
    x[1700:1850] = x[1700]  # the sensor repeats its last value
    return Series(name="stuck", kind="stuck", timestamps=_regular(n, 60),
                  values=x[:, None], labels=(1700,))


def _counts(rng: np.random.Generator) -> Series:
    n = 3000
    lam = np.full(n, 3.0)
    lam[1100:1110] = 25.0
    lam[2200:2215] = 18.0
    return Series(name="count_bursts", kind="count_burst", timestamps=_regular(n, 300),
                  values=rng.poisson(lam).astype(np.float64)[:, None], labels=(1100, 2200))


def _quiet_counts(rng: np.random.Generator) -> Series:
    n = 3000
    return Series(name="quiet_counts", kind="none", timestamps=_regular(n, 300),
                  values=rng.poisson(0.3, n).astype(np.float64)[:, None], labels=())


def _flat(rng: np.random.Generator) -> Series:
    n = 2000
    return Series(name="flat", kind="none", timestamps=_regular(n, 60),
                  values=np.full((n, 1), 7.25), labels=())


def _noise_free(rng: np.random.Generator) -> Series:
    ts = _regular(10 * 96, 900)
    return Series(name="noise_free_rhythm", kind="none", timestamps=ts,
                  values=(50 + 10 * _daily(ts))[:, None], labels=())


def _ramp(rng: np.random.Generator) -> Series:
    n = 2000
    return Series(name="noise_free_ramp", kind="none", timestamps=_regular(n, 60),
                  values=(0.01 * np.arange(n, dtype=np.float64))[:, None], labels=())


def _healthy(rng: np.random.Generator) -> Series:
    ts = _regular(14 * 96, 900)
    x = 60 + 8 * _daily(ts) + rng.standard_t(5, ts.size)
    return Series(name="healthy_rhythm", kind="none", timestamps=ts, values=x[:, None],
                  labels=())


def _irregular(rng: np.random.Generator) -> Series:
    n = 3000
    dt = rng.exponential(60.0, n) + 1.0  # seconds between samples, Poisson-like arrivals
    ts = T0 + np.cumsum(dt * 1000).astype("timedelta64[ms]")
    x = 12 + rng.normal(0, 1, n)
    x[1000:1004] += 8
    x[2000:] -= 4
    return Series(name="irregular", kind="spike+level_shift", timestamps=ts,
                  values=x[:, None], labels=(1000, 2000))


def _gaps(rng: np.random.Generator) -> Series:
    n = 3000
    step = np.full(n, 60.0)
    step[800] = 6 * 3600.0  # six hours without data
    step[1900] = 2 * 86400.0  # two days without data
    ts = T0 + np.cumsum(step * 1000).astype("timedelta64[ms]")
    x = 3 + rng.normal(0, 0.2, n)
    x[2500:2503] += 2.0
    return Series(name="gaps", kind="spike", timestamps=ts, values=x[:, None],
                  labels=(2500,))


def _multivariate(rng: np.random.Generator) -> Series:
    n = 3000
    common = rng.normal(0, 1, n)
    X = np.column_stack([10 + common + rng.normal(0, 0.3, n),
                         20 + 2 * common + rng.normal(0, 0.5, n),
                         rng.normal(0, 1, n)])
    X[1000:1003, 2] += 7  # a spike in one column
    X[2100:, 1] += 3  # a lasting shift in another
    return Series(name="multivariate", kind="spike+level_shift", timestamps=_regular(n, 60),
                  values=X, labels=(1000, 2100))


KINDS: tuple[Callable[[np.random.Generator], Series], ...] = (
    _spikes, _level_shift, _drift, _daily_break, _weekly_break, _variance, _stuck, _counts,
    _quiet_counts, _flat, _noise_free, _ramp, _healthy, _irregular, _gaps, _multivariate)


def suite(seed: int = 0) -> list[Series]:
    """Every series of the suite, each from its own stream of ``seed``."""
    return [make(np.random.default_rng([seed, i])) for i, make in enumerate(KINDS)]
