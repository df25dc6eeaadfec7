"""`mean_rate`: a mean of non-binary scores, shaped like `rate()` so every surface prints it alike."""

from __future__ import annotations

import pytest

from benchlab.analysis.summary import mean_rate, rate


def test_empty_scores_have_no_rate_and_the_widest_interval() -> None:
    assert mean_rate([]) == {
        "k": 0,
        "n": 0,
        "rate": None,
        "ci_low": 0.0,
        "ci_high": 1.0,
        "method": "bootstrap",
    }


def test_mean_with_an_interval_around_it_in_the_shape_of_rate() -> None:
    entry = mean_rate([0.0, 0.5, 1.0, 1.0, 0.25, 0.75], n_resamples=2000)
    assert set(rate(1, 2)) <= set(entry)
    assert entry["n"] == 6 and entry["k"] == 3.5
    assert entry["rate"] == pytest.approx(3.5 / 6)
    assert 0.0 <= entry["ci_low"] < entry["rate"] < entry["ci_high"] <= 1.0
    assert mean_rate([0.0, 0.5, 1.0, 1.0, 0.25, 0.75], n_resamples=2000) == entry  # seeded: reproducible
