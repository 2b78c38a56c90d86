"""The generalisation suite and its NAB scorer: the scorer against the published rules on
hand-computed cases, the suite's contents, and ``bench generalise`` through the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmarks.generalise_series import suite
from detection.library.nab import NabTotal, nab_windows, probation_rows, scaled_sigmoid, score_file
from robowatch.cli.bench import app


def test_scaled_sigmoid_matches_the_published_values():
    # NAB README / sweeper docstring: 0.98661 at the window's left edge, 0 at its right
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0 and scaled_sigmoid(3.5) == -1.0


def test_windows_are_ten_percent_of_the_file_shared_between_labels():
    assert nab_windows(2000, [1000]) == [(900, 1100)]
    assert nab_windows(2000, [600, 1400]) == [(550, 650), (1350, 1450)]
    assert probation_rows(2000) == 300 and probation_rows(100_000) == 750


def test_null_perfect_and_profiles():
    n, labels = 2000, [1000]
    nothing = score_file(np.zeros(n, dtype=bool), labels)
    assert nothing.raw == nothing.null == {"standard": -1.0, "lowfp": -1.0, "lowfn": -2.0}
    perfect = np.zeros(n, dtype=bool)
    perfect[900] = True
    assert score_file(perfect, labels).raw == {"standard": 1.0, "lowfp": 1.0, "lowfn": 1.0}
    # a detection at the window's last row earns scaled_sigmoid(-1/width) / 0.98661
    late = np.zeros(n, dtype=bool)
    late[1100] = True
    expect = scaled_sigmoid(-1 / 201) / scaled_sigmoid(-1.0)
    assert score_file(late, labels).raw["standard"] == pytest.approx(expect)
    # only the first detection in a window counts; a stray one far away costs A_fp
    two = perfect.copy()
    two[[950, 1900]] = True
    s = score_file(two, labels)
    assert s.raw["standard"] == pytest.approx(1.0 - 0.11)
    assert s.raw["lowfp"] == pytest.approx(1.0 - 0.22)
    # a false positive just after a window costs less than a stray one
    after = perfect.copy()
    after[1110] = True
    y = 10 / 200
    assert score_file(after, labels).raw["standard"] == pytest.approx(
        1.0 + 0.11 * scaled_sigmoid(y))
    # detections in the probation (first 15 %) are not scored
    early = np.zeros(n, dtype=bool)
    early[100] = True
    assert score_file(early, labels).false_positives == 0


def test_normalisation_over_files():
    t = NabTotal()
    hit = np.zeros(2000, dtype=bool)
    hit[900] = True
    t.add(score_file(hit, [1000]))
    t.add(score_file(np.zeros(2000, dtype=bool), [1000]))
    assert t.normalised()["standard"] == pytest.approx(50.0)
    assert math.isclose(t.normalised()["lowfn"], 100 * (1 - 2 - (-4)) / (2 - (-4)))


def test_suite_is_seeded_and_covers_every_kind():
    a, b = suite(0), suite(0)
    assert [s.name for s in a] == [s.name for s in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.values, y.values)
    kinds = {s.kind for s in a}
    assert {"spike", "level_shift", "drift", "seasonal_break", "variance_change", "stuck",
            "count_burst", "none"} <= kinds
    assert any(s.values.shape[1] > 1 for s in a)
    assert not np.array_equal(suite(1)[0].values, a[0].values)


@pytest.mark.slow
def test_bench_generalise_json_beats_before_and_keeps_silent_series_silent():
    result = CliRunner().invoke(app, ["generalise", "--no-skab", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["nab_standard"] > out["nab_standard_before"]
    assert out["after"]["silent_series_alarms"] == 0
    assert "f1" not in out  # SKAB left out on request
