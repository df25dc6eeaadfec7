"""Tests for benchlab.analysis.stats."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from benchlab.analysis.stats import (
    Interval,
    bootstrap_mean,
    letter_bias,
    mcnemar_exact,
    mcnemar_sample_size,
    paired_bootstrap,
    paired_comparison,
    pass_at_k,
    rate_summary,
    wilson_interval,
)

Z95 = 1.959963984540054  # standard normal 97.5% quantile


def wilson_closed_form(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval written out from its textbook formula."""
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def pairs(both: int, only_a: int, only_b: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return a, b


# --------------------------------------------------------------------------- Wilson


def test_wilson_matches_closed_form() -> None:
    iv = wilson_interval(8, 10)
    low, high = wilson_closed_form(8, 10)
    assert iv.estimate == pytest.approx(0.8)
    assert iv.low == pytest.approx(low, abs=1e-12)
    assert iv.high == pytest.approx(high, abs=1e-12)
    assert iv.low == pytest.approx(0.4901624715, abs=1e-9)
    assert iv.high == pytest.approx(0.9433178485, abs=1e-9)


def test_wilson_other_confidence_matches_closed_form() -> None:
    iv = wilson_interval(37, 120, confidence=0.9)
    low, high = wilson_closed_form(37, 120, z=float(sps.norm.ppf(0.95)))
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=1e-12)
    assert iv.confidence == 0.9


def test_wilson_extremes() -> None:
    zero = wilson_interval(0, 50)
    assert zero.estimate == 0.0 and zero.low == 0.0
    assert zero.high == pytest.approx(wilson_closed_form(0, 50)[1])
    full = wilson_interval(50, 50)
    assert full.estimate == 1.0 and full.high == 1.0
    assert full.low == pytest.approx(wilson_closed_form(50, 50)[0])


def test_wilson_no_data() -> None:
    iv = wilson_interval(0, 0)
    assert math.isnan(iv.estimate)
    assert (iv.low, iv.high) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("k", "n", "conf"), [(-1, 5, 0.95), (6, 5, 0.95), (1, 5, 0.0), (1, 5, 1.0), (1.5, 5, 0.95)]
)
def test_wilson_rejects_bad_input(k: float, n: int, conf: float) -> None:
    with pytest.raises((ValueError, TypeError)):
        wilson_interval(k, n, conf)  # type: ignore[arg-type]


def test_wilson_accepts_numpy_integers() -> None:
    assert wilson_interval(np.int64(3), np.int64(4)).estimate == 0.75


@given(n=st.integers(min_value=1, max_value=100_000), data=st.data())
@settings(max_examples=200, deadline=None)
def test_wilson_interval_is_well_formed(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    conf = data.draw(st.sampled_from([0.8, 0.9, 0.95, 0.99]))
    iv = wilson_interval(k, n, conf)
    assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0


def test_rate_summary() -> None:
    r = rate_summary(8, 10)
    assert r.interval == wilson_interval(8, 10)
    assert str(r) == "80.0% [49.0–94.3] (8/10)"
    assert rate_summary(0, 0).format() == "n/a (0/0)"


# --------------------------------------------------------------------------- McNemar


def test_mcnemar_known_value() -> None:
    r = mcnemar_exact(1, 9)
    assert r.p_value == pytest.approx(2 * sps.binom.cdf(1, 10, 0.5), rel=1e-12)
    assert r.p_value == pytest.approx(0.021484375, rel=1e-12)
    assert (r.b, r.c, r.n_discordant) == (1, 9, 10)
    assert r.statistic == pytest.approx(64 / 10)
    assert mcnemar_exact(9, 1).p_value == pytest.approx(r.p_value)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 1), (7, 7), (2500, 2500)])
def test_mcnemar_equal_counts_give_p_one(b: int, c: int) -> None:
    assert mcnemar_exact(b, c).p_value == pytest.approx(1.0)


def test_mcnemar_small_counts() -> None:
    assert mcnemar_exact(0, 0).n_discordant == 0
    assert mcnemar_exact(0, 1).p_value == pytest.approx(1.0)
    assert mcnemar_exact(0, 5).p_value == pytest.approx(2 * 0.5**5)


@pytest.mark.parametrize(("b", "c"), [(5000, 5200), (100_000, 101_500), (3, 40_000)])
def test_mcnemar_large_counts(b: int, c: int) -> None:
    r = mcnemar_exact(b, c)
    expected = sps.binomtest(b, b + c, 0.5).pvalue
    assert math.isfinite(r.p_value)
    assert 0.0 <= r.p_value <= 1.0
    assert r.p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)
    # For p = 1/2 the two-sided exact p is twice the smaller tail.
    assert r.p_value == pytest.approx(min(1.0, 2 * sps.binom.cdf(min(b, c), b + c, 0.5)), rel=1e-9)


def test_mcnemar_rejects_negative() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


# --------------------------------------------------------------------------- sample size


def test_sample_size_known_value() -> None:
    # Connor (1987): psi = 0.3, delta = 0.1, alpha 0.05 two-sided, 80% power.
    z_b = 0.8416212335729143
    n = (Z95 * math.sqrt(0.3) + z_b * math.sqrt(0.3 - 0.01)) ** 2 / 0.01
    assert mcnemar_sample_size(0.3, 0.1) == math.ceil(n) == 234
    assert mcnemar_sample_size(0.3, -0.1) == 234


def test_sample_size_grows_as_difference_shrinks() -> None:
    sizes = [mcnemar_sample_size(0.2, d) for d in (0.2, 0.1, 0.05, 0.02, 0.01)]
    assert sizes == sorted(sizes)
    assert len(set(sizes)) == len(sizes)


def test_sample_size_grows_with_discordance_and_power() -> None:
    assert mcnemar_sample_size(0.4, 0.05) > mcnemar_sample_size(0.1, 0.05)
    assert mcnemar_sample_size(0.2, 0.05, power=0.9) > mcnemar_sample_size(0.2, 0.05, power=0.8)
    assert mcnemar_sample_size(0.2, 0.05, alpha=0.01) > mcnemar_sample_size(0.2, 0.05, alpha=0.05)


@pytest.mark.parametrize(("psi", "d"), [(0.0, 0.1), (0.1, 0.0), (0.1, 0.2), (1.5, 0.1)])
def test_sample_size_rejects_impossible(psi: float, d: float) -> None:
    with pytest.raises(ValueError):
        mcnemar_sample_size(psi, d)


# --------------------------------------------------------------------------- paired comparison


def newcombe_reference(both: int, b: int, c: int, neither: int) -> tuple[float, float]:
    """Newcombe (1998) method 10 for p_B - p_A, written out independently."""
    n = both + b + c + neither
    r1, r2 = both + c, both + b  # successes of B (first) and A (second)
    p1, p2 = r1 / n, r2 / n
    l1, u1 = wilson_closed_form(r1, n)
    l2, u2 = wilson_closed_form(r2, n)
    l1, u1, l2, u2 = max(l1, 0), min(u1, 1), max(l2, 0), min(u2, 1)
    denom = r1 * (n - r1) * r2 * (n - r2)
    ad_bc = both * neither - b * c
    if denom == 0:
        phi = 0.0
    elif ad_bc > n / 2:
        phi = (ad_bc - n / 2) / math.sqrt(denom)
    elif ad_bc >= 0:
        phi = 0.0
    else:
        phi = ad_bc / math.sqrt(denom)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return max(lo, -1.0), min(hi, 1.0)


@pytest.mark.parametrize(
    "table", [(30, 5, 12, 53), (1, 1, 7, 12), (59, 6, 16, 80), (0, 0, 10, 0), (40, 0, 0, 0), (5, 2, 2, 1)]
)
def test_paired_interval_matches_reference(table: tuple[int, int, int, int]) -> None:
    _, only_a, only_b, _ = table
    a, b = pairs(*table)
    r = paired_comparison(a, b)
    low, high = newcombe_reference(*table)
    assert r.difference == pytest.approx((only_b - only_a) / sum(table))
    assert r.interval.low == pytest.approx(low, abs=1e-9)
    assert r.interval.high == pytest.approx(high, abs=1e-9)


def test_paired_comparison_fields() -> None:
    a, b = pairs(50, 3, 15, 32)  # n = 100
    r = paired_comparison(a, b)
    assert r.n == 100
    assert r.accuracy_a == pytest.approx(0.53)
    assert r.accuracy_b == pytest.approx(0.65)
    assert r.difference == pytest.approx(0.12)
    assert (r.b, r.c) == (3, 15)
    assert r.p_value == pytest.approx(mcnemar_exact(3, 15).p_value)
    assert r.significant
    assert r.required_n is None and r.power_note is None
    assert r.interval.low > 0


def test_paired_comparison_swapping_runs_negates() -> None:
    a, b = pairs(30, 5, 12, 53)
    ab, ba = paired_comparison(a, b), paired_comparison(b, a)
    assert ba.difference == pytest.approx(-ab.difference)
    assert ba.interval.low == pytest.approx(-ab.interval.high)
    assert ba.interval.high == pytest.approx(-ab.interval.low)
    assert (ba.b, ba.c) == (ab.c, ab.b)
    assert ba.p_value == pytest.approx(ab.p_value)


def test_paired_comparison_not_significant_has_power_note() -> None:
    a, b = pairs(60, 8, 11, 21)  # n = 100, diff = 0.03, discordance 0.19
    r = paired_comparison(a, b)
    assert not r.significant
    assert r.required_n == mcnemar_sample_size(0.19, 0.03)
    assert r.required_n is not None and r.required_n > 100
    assert r.power_note is not None and str(r.required_n) in r.power_note


def test_paired_comparison_min_effect() -> None:
    a, b = pairs(60, 8, 11, 21)
    r = paired_comparison(a, b, min_effect=0.05)
    assert r.required_n == mcnemar_sample_size(0.19, 0.05)
    # Identical runs: no discordance, so the effect itself is the least discordance possible.
    same = [True, False] * 20
    r0 = paired_comparison(same, same, min_effect=0.1)
    assert r0.p_value == 1.0 and r0.difference == 0.0
    assert r0.required_n == mcnemar_sample_size(0.1, 0.1)


def test_paired_comparison_zero_difference_without_min_effect() -> None:
    same = [True, False, True]
    r = paired_comparison(same, same)
    assert r.required_n is None
    assert r.power_note is not None and "min_effect" in r.power_note
    assert r.interval.low <= 0.0 <= r.interval.high


def test_paired_comparison_rejects_misaligned_or_empty() -> None:
    with pytest.raises(ValueError):
        paired_comparison([True], [True, False])
    with pytest.raises(ValueError):
        paired_comparison([], [])


@given(
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 300),
)
@settings(max_examples=200, deadline=None)
def test_paired_interval_is_well_formed(both: int, only_a: int, only_b: int, neither: int) -> None:
    if both + only_a + only_b + neither == 0:
        return
    r = paired_comparison(*pairs(both, only_a, only_b, neither))
    assert -1.0 <= r.interval.low <= r.difference <= r.interval.high <= 1.0
    assert 0.0 <= r.p_value <= 1.0
    assert 0.0 <= r.accuracy_a <= 1.0 and 0.0 <= r.accuracy_b <= 1.0


# --------------------------------------------------------------------------- bootstrap


def test_paired_bootstrap_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, 200)
    b = np.clip(a + rng.normal(0.05, 0.1, 200), 0, 1)
    first = paired_bootstrap(a, b, seed=7, n_resamples=2000)
    assert first == paired_bootstrap(a, b, seed=7, n_resamples=2000)
    assert first != paired_bootstrap(a, b, seed=8, n_resamples=2000)


def test_paired_bootstrap_covers_true_difference() -> None:
    rng = np.random.default_rng(42)
    difficulty = rng.uniform(0, 10, 400)  # large shared per-question variation
    a = difficulty + rng.normal(0, 0.5, 400)
    b = difficulty + 0.3 + rng.normal(0, 0.5, 400)
    iv = paired_bootstrap(a, b)
    assert iv.estimate == pytest.approx(float(np.mean(b - a)))
    assert iv.low < 0.3 < iv.high
    assert iv.low > 0.0  # pairing removes the shared difficulty
    assert iv.width < 0.25
    assert iv.confidence == 0.95


def test_paired_bootstrap_constant_difference() -> None:
    iv = paired_bootstrap([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert (iv.estimate, iv.low, iv.high) == (0.5, 0.5, 0.5)


def test_paired_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
    with pytest.raises(ValueError):
        paired_bootstrap([1.0, math.nan], [1.0, 2.0])


def test_bootstrap_mean() -> None:
    values = [0.0, 0.5, 1.0, 1.0, 0.5, 0.25, 0.75, 1.0, 0.0, 0.5] * 10
    iv = bootstrap_mean(values, seed=3)
    assert iv.estimate == pytest.approx(0.55)
    assert iv.low < 0.55 < iv.high
    assert iv.low >= 0.0 and iv.high <= 1.0
    assert iv == bootstrap_mean(values, seed=3)
    pct = bootstrap_mean(values, seed=3, method="percentile", confidence=0.9)
    assert pct.confidence == 0.9 and pct.width < iv.width + 0.05


# --------------------------------------------------------------------------- letter bias


def test_letter_bias_uniform_has_high_p() -> None:
    chosen = list("ABCD") * 25
    r = letter_bias(chosen, [4] * 100)
    assert r.observed == {"A": 25, "B": 25, "C": 25, "D": 25}
    assert r.expected == pytest.approx({"A": 25.0, "B": 25.0, "C": 25.0, "D": 25.0})
    assert r.chi2 == pytest.approx(0.0)
    assert r.dof == 3
    assert r.p_value == pytest.approx(1.0)
    assert r.pooled == ()


def test_letter_bias_mildly_uneven_is_not_significant() -> None:
    chosen = ["A"] * 28 + ["B"] * 24 + ["C"] * 23 + ["D"] * 25
    r = letter_bias(chosen, [4] * 100)
    assert r.p_value > 0.5


def test_letter_bias_all_a_has_tiny_p() -> None:
    r = letter_bias(["A"] * 100, [4] * 100)
    assert r.chi2 == pytest.approx(300.0)  # (75² + 3·25²) / 25
    assert r.p_value < 1e-30


def test_letter_bias_mixed_option_counts() -> None:
    chosen = ["A"] * 40 + ["B"] * 50
    counts = [4] * 40 + [10] * 50
    r = letter_bias(chosen, counts)
    assert list(r.expected) == list("ABCDEFGHIJ")
    for letter in "ABCD":
        assert r.expected[letter] == pytest.approx(40 / 4 + 50 / 10)
    for letter in "EFGHIJ":
        assert r.expected[letter] == pytest.approx(5.0)
    assert sum(r.expected.values()) == pytest.approx(90)
    assert r.observed["A"] == 40 and r.observed["B"] == 50 and r.observed["J"] == 0
    assert r.pooled == ()
    assert r.dof == 9


def test_letter_bias_pools_rare_letters() -> None:
    # 20 four-option and 30 ten-option questions: A–D expect 8, E–J expect 3 each.
    counts = [4] * 20 + [10] * 30
    chosen = list("ABCD") * 5 + list("ABCDEFGHIJ") * 3
    r = letter_bias(chosen, counts)
    assert r.pooled == tuple("EFGHIJ")
    assert r.dof == 4  # A, B, C, D, rest
    assert "rest" in r.note
    obs = [8, 8, 8, 8, 18]
    exp = [8, 8, 8, 8, 18]
    assert r.chi2 == pytest.approx(float(sps.chisquare(obs, exp).statistic))
    assert r.p_value == pytest.approx(1.0)


def test_letter_bias_grows_rest_bin_until_valid() -> None:
    # 36 four-option and 2 five-option questions: E expects 0.4, too little on its own.
    counts = [4] * 36 + [5] * 2
    chosen = list("ABCD") * 9 + ["A", "E"]
    r = letter_bias(chosen, counts)
    assert "E" in r.pooled and len(r.pooled) >= 2
    assert math.isfinite(r.p_value)


def test_letter_bias_too_few_answers() -> None:
    r = letter_bias(list("ABCDABCD"), [4] * 8)
    assert math.isnan(r.p_value)
    assert "too few" in r.note
    empty = letter_bias([], [])
    assert math.isnan(empty.p_value) and empty.n == 0


def test_letter_bias_accepts_lowercase_and_rejects_impossible_letters() -> None:
    assert letter_bias(["a", " b "], [4, 4]).observed["B"] == 1
    with pytest.raises(ValueError):
        letter_bias(["E"], [4])
    with pytest.raises(ValueError):
        letter_bias(["A"], [1])
    with pytest.raises(ValueError):
        letter_bias(["AB"], [4])
    with pytest.raises(ValueError):
        letter_bias(["A", "B"], [4])


# --------------------------------------------------------------------------- pass@k


def test_pass_at_k_known_cases() -> None:
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 5) == 1.0
    assert pass_at_k(5, 1, 5) == 1.0
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)


@pytest.mark.parametrize("n", [1, 2, 7, 20])
def test_pass_at_k_matches_combinatorial_definition(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
            assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_pass_at_k_large_n_is_stable() -> None:
    n, c, k = 100_000, 37, 500
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    value = pass_at_k(n, c, k)
    assert math.isfinite(value)
    assert value == pytest.approx(float(exact), rel=1e-9)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (5, 6, 1), (5, 2, 0), (5, 2, 6), (5, -1, 1)])
def test_pass_at_k_validation(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


@given(n=st.integers(1, 500), data=st.data())
@settings(max_examples=200, deadline=None)
def test_pass_at_k_bounded_and_monotone_in_k(n: int, data: st.DataObject) -> None:
    c = data.draw(st.integers(0, n))
    values = [pass_at_k(n, c, k) for k in range(1, min(n, 30) + 1)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(x <= y + 1e-12 for x, y in itertools.pairwise(values))
    assert values[0] == pytest.approx(c / n)


def test_interval_helpers() -> None:
    iv = Interval(0.5, 0.25, 0.75)
    assert iv.width == 0.5
    assert iv.contains(0.3) and not iv.contains(0.8)
