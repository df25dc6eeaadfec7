"""Statistics for benchmark results (DESIGN.md §6).

Every number benchlab reports about a model is an estimate from a finite set of
questions, so each one comes with an honest measure of its uncertainty:

* rates (accuracy, pass@1, unparseable and error rates) get a Wilson score
  interval, which unlike the textbook normal interval stays inside [0, 1] and
  keeps its coverage near 0 % and 100 %, where good models live;
* two runs over the same questions are compared *paired*, because per-question
  difficulty is shared and pairing removes it: an exact McNemar test on the
  discordant questions, Newcombe's interval for the difference in accuracy, and
  a sample-size estimate when the difference is not significant;
* non-binary scores (rubrics, weighted scores) get bootstrap intervals;
* position bias in multiple-choice answers gets a χ² goodness-of-fit test that
  accounts for questions having different numbers of options;
* pass@k uses the unbiased estimator rather than the biased "best of k samples".

All functions are pure.  Distributions and tests come from SciPy; only the
closed-form combinations SciPy does not offer (Newcombe's paired interval,
the McNemar sample size, pass@k) are written out here.
"""

from __future__ import annotations

import math
import operator
import string
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np


def _scipy_stats() -> ModuleType:
    """SciPy's stats module, imported on first use: it takes about a second to import, which
    every command would otherwise pay at start-up."""
    from scipy import stats

    return stats


__all__ = [
    "Interval",
    "LetterBias",
    "McNemarResult",
    "PairedComparison",
    "RateSummary",
    "bootstrap_mean",
    "letter_bias",
    "mcnemar_exact",
    "mcnemar_sample_size",
    "paired_bootstrap",
    "paired_comparison",
    "pass_at_k",
    "rate_summary",
    "wilson_interval",
]

#: Smallest expected count per χ² bin; below it the χ² approximation is unreliable.
MIN_EXPECTED_COUNT = 5.0

BootstrapMethod = Literal["BCa", "percentile", "basic"]


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    @property
    def width(self) -> float:
        return self.high - self.low

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True, slots=True)
class RateSummary:
    """A rate ``successes / n`` with its Wilson interval, ready for display."""

    successes: int
    n: int
    interval: Interval

    def format(self, digits: int = 1) -> str:
        """Render as e.g. ``"80.0% [49.0–94.3] (8/10)"``; ``"n/a (0/0)"`` when there is no data."""
        if self.n == 0:
            return "n/a (0/0)"
        iv = self.interval
        return (
            f"{100 * iv.estimate:.{digits}f}% "
            f"[{100 * iv.low:.{digits}f}–{100 * iv.high:.{digits}f}] ({self.successes}/{self.n})"
        )

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True, slots=True)
class McNemarResult:
    """Exact McNemar test on the discordant pairs of a paired comparison.

    ``b`` counts questions A got right and B got wrong, ``c`` the reverse.
    ``statistic`` is the uncorrected McNemar χ² value ``(b - c)² / (b + c)``
    (0 when there are no discordant pairs), kept for readers who know that
    scale; the p-value always comes from the exact binomial test.
    """

    b: int
    c: int
    n_discordant: int
    p_value: float
    statistic: float


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Comparison of two runs (A, B) over the same questions.

    ``difference`` is ``accuracy_b - accuracy_a`` (positive: B is better) and
    ``interval`` is its Newcombe (1998, method 10) confidence interval at level
    ``1 - alpha``.  ``significant`` is decided by the exact McNemar ``p_value``
    alone; because the interval is a different (score-based) construction it
    can, in borderline cases, include 0 while ``p_value < alpha`` or vice versa.
    ``required_n`` and ``power_note`` are only set when the comparison is not
    significant.
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float
    interval: Interval
    b: int
    c: int
    p_value: float
    significant: bool
    alpha: float
    required_n: int | None
    power_note: str | None


@dataclass(frozen=True, slots=True)
class LetterBias:
    """χ² goodness-of-fit test of chosen answer letters against position-neutral guessing.

    ``observed``/``expected`` are per letter (before pooling) so they can be shown
    as is; ``pooled`` lists the letters merged into the ``"rest"`` bin for the
    test itself, and ``dof`` is the number of bins actually tested minus one.
    ``p_value`` is nan (with ``note`` saying why) when there are too few answers
    for a valid test.
    """

    n: int
    observed: dict[str, int]
    expected: dict[str, float]
    chi2: float
    dof: int
    p_value: float
    pooled: tuple[str, ...]
    note: str


# --------------------------------------------------------------------------- validation


def _count(value: int, name: str) -> int:
    """Coerce an integer-like count (int, numpy integer) and reject negatives or floats."""
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if out < 0:
        raise ValueError(f"{name} must be >= 0, got {out}")
    return out


def _level(value: float, name: str) -> float:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
    return float(value)


# --------------------------------------------------------------------------- rates


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial rate ``successes / n``.

    Wilson rather than the normal (Wald) interval because benchmark rates are
    often near 0 or 1 and computed on a few hundred questions, where Wald
    collapses to zero width or leaves [0, 1].  The computation is SciPy's
    ``binomtest(...).proportion_ci(method="wilson")``.

    With ``n == 0`` there is no information: the estimate is ``nan`` and the
    interval is the whole range ``[0, 1]``, so callers can render "n/a" without
    special-casing while any downstream arithmetic on the estimate stays visibly
    undefined.
    """
    k = _count(successes, "successes")
    total = _count(n, "n")
    level = _level(confidence, "confidence")
    if k > total:
        raise ValueError(f"successes ({k}) cannot exceed n ({total})")
    if total == 0:
        return Interval(math.nan, 0.0, 1.0, level)
    ci = _scipy_stats().binomtest(k, total).proportion_ci(confidence_level=level, method="wilson")
    estimate = k / total
    # Clamp away floating-point dust so low <= estimate <= high always holds exactly.
    low = min(max(float(ci.low), 0.0), estimate)
    high = max(min(float(ci.high), 1.0), estimate)
    return Interval(estimate, low, high, level)


def rate_summary(k: int, n: int, confidence: float = 0.95) -> RateSummary:
    """Bundle a count, its total and its Wilson interval for display (see :func:`wilson_interval`)."""
    return RateSummary(_count(k, "k"), _count(n, "n"), wilson_interval(k, n, confidence))


# --------------------------------------------------------------------------- paired binary comparison


def mcnemar_exact(b: int, c: int) -> McNemarResult:
    """Exact two-sided McNemar test.

    Under the null hypothesis that A and B are equally accurate, each discordant
    question is equally likely to favour either run, so ``b ~ Binomial(b + c, 1/2)``.
    The exact binomial test (SciPy's ``binomtest`` with ``p = 0.5``) is valid for
    any count, unlike the χ² approximation which misbehaves for few discordant
    pairs; SciPy evaluates it through the binomial CDF, so thousands of pairs do
    not overflow.  With no discordant pairs there is no evidence either way and
    ``p = 1``.

    ``b``: questions A answered correctly and B did not; ``c``: the reverse.
    """
    b = _count(b, "b")
    c = _count(c, "c")
    nd = b + c
    if nd == 0:
        return McNemarResult(b, c, 0, 1.0, 0.0)
    p = float(_scipy_stats().binomtest(b, nd, p=0.5, alternative="two-sided").pvalue)
    return McNemarResult(b, c, nd, min(p, 1.0), (b - c) ** 2 / nd)


def _newcombe_paired_interval(both: int, b: int, c: int, neither: int, confidence: float) -> Interval:
    """Newcombe's (1998) method 10 interval for ``accuracy_b - accuracy_a`` on paired data.

    A "square-and-add" interval: it combines the Wilson intervals of the two
    marginal accuracies and corrects for their correlation with the (continuity
    adjusted) phi coefficient of the 2x2 table.  It is chosen because it is
    closed-form, stays inside [-1, 1], behaves at 0 and n discordant pairs, and
    had close-to-nominal coverage in Newcombe's comparison, unlike the Wald
    interval ``(c - b)/n ± z·se``.

    Table layout: ``both`` = both right, ``b`` = only A right, ``c`` = only B
    right, ``neither`` = both wrong.
    """
    n = both + b + c + neither
    right_a, right_b = both + b, both + c
    p_a, p_b = right_a / n, right_b / n
    diff = (right_b - right_a) / n  # exact ratio: (c - b) / n, without float cancellation
    wa = wilson_interval(right_a, n, confidence)
    wb = wilson_interval(right_b, n, confidence)

    margins = right_a * (n - right_a) * right_b * (n - right_b)
    if margins == 0:
        phi = 0.0
    else:
        cross = both * neither - b * c
        if cross > n / 2:
            adjusted = cross - n / 2
        elif cross >= 0:
            adjusted = 0.0
        else:
            adjusted = float(cross)
        phi = adjusted / math.sqrt(margins)

    # Lower limit: B may be as bad as its lower Wilson bound while A is as good as its upper.
    d_low = math.sqrt(
        max((p_b - wb.low) ** 2 + (wa.high - p_a) ** 2 - 2 * phi * (p_b - wb.low) * (wa.high - p_a), 0.0)
    )
    d_high = math.sqrt(
        max((wb.high - p_b) ** 2 + (p_a - wa.low) ** 2 - 2 * phi * (wb.high - p_b) * (p_a - wa.low), 0.0)
    )
    low = max(diff - d_low, -1.0)
    high = min(diff + d_high, 1.0)
    return Interval(diff, min(low, diff), max(high, diff), confidence)


def mcnemar_sample_size(
    p_discordant: float, difference: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Number of paired questions a two-sided McNemar test needs to detect ``difference``.

    Connor's (1987) normal-approximation formula::

        n = (z_{1-alpha/2} * sqrt(psi) + z_{power} * sqrt(psi - delta^2))^2 / delta^2

    where ``psi = p_discordant`` is the expected fraction of questions on which
    the two runs disagree and ``delta = difference`` the difference in accuracy.
    The discordance rate drives the answer: two models that disagree on many
    questions need many more questions to separate than two that rarely disagree,
    which is why a paired comparison reuses the observed rate.  ``|difference|``
    cannot exceed ``p_discordant`` (a difference needs that many disagreements).
    """
    psi = float(p_discordant)
    delta = abs(float(difference))
    a = _level(alpha, "alpha")
    pw = _level(power, "power")
    if not 0.0 < psi <= 1.0:
        raise ValueError(f"p_discordant must be in (0, 1], got {p_discordant}")
    if delta == 0.0 or math.isnan(delta):
        raise ValueError("difference must be non-zero")
    if delta > psi:
        raise ValueError(
            f"|difference| ({delta}) cannot exceed the discordance rate ({psi}): "
            "every point of difference needs a question the runs disagree on"
        )
    z_alpha = float(_scipy_stats().norm.ppf(1.0 - a / 2.0))
    z_beta = float(_scipy_stats().norm.ppf(pw))
    n = (z_alpha * math.sqrt(psi) + z_beta * math.sqrt(psi - delta**2)) ** 2 / delta**2
    # Round away tiny float error before ceiling so e.g. 233.0000000001 stays 233.
    return max(1, math.ceil(round(n, 9)))


def paired_comparison(
    a: Sequence[bool],
    b: Sequence[bool],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float | None = None,
) -> PairedComparison:
    """Compare two runs' per-question correctness over the same, aligned questions.

    Pairing matters: both runs see the same questions, so only the questions on
    which they *disagree* carry information about which is better.  The result
    has the exact McNemar p-value, the discordant counts (``b`` = A right / B
    wrong, ``c`` = A wrong / B right), the accuracy difference ``B - A`` with
    Newcombe's method-10 interval at level ``1 - alpha``, and ``significant``
    (``p_value < alpha``).

    When the difference is not significant, ``required_n`` estimates how many
    paired questions would detect it with the given ``power`` (Connor's formula,
    see :func:`mcnemar_sample_size`), using the observed discordance rate and
    either ``min_effect`` (an accuracy difference in [0, 1], e.g. 0.02 for two
    points) or else the observed difference.  If the observed discordance rate is
    below that effect, the smallest discordance compatible with it (the effect
    itself) is used instead.  ``power_note`` states the result in words.

    Callers must check that both runs used the same samples, option order and
    dataset (DESIGN.md §6); this function only sees the aligned outcomes.
    """
    if len(a) != len(b):
        raise ValueError(f"runs must be aligned: {len(a)} vs {len(b)} outcomes")
    n = len(a)
    if n == 0:
        raise ValueError("cannot compare runs with no questions")
    level = 1.0 - _level(alpha, "alpha")
    _level(power, "power")

    both = only_a = only_b = 0
    for x, y in zip(a, b, strict=True):
        ra, rb = bool(x), bool(y)
        both += ra and rb
        only_a += ra and not rb
        only_b += rb and not ra
    neither = n - both - only_a - only_b

    test = mcnemar_exact(only_a, only_b)
    interval = _newcombe_paired_interval(both, only_a, only_b, neither, level)
    significant = test.p_value < alpha

    required_n: int | None = None
    note: str | None = None
    if not significant:
        required_n, note = _power_note(n, only_a + only_b, interval.estimate, alpha, power, min_effect)

    return PairedComparison(
        n=n,
        accuracy_a=(both + only_a) / n,
        accuracy_b=(both + only_b) / n,
        difference=interval.estimate,
        interval=interval,
        b=only_a,
        c=only_b,
        p_value=test.p_value,
        significant=significant,
        alpha=float(alpha),
        required_n=required_n,
        power_note=note,
    )


def _power_note(
    n: int, discordant: int, observed: float, alpha: float, power: float, min_effect: float | None
) -> tuple[int | None, str]:
    if min_effect is not None:
        if not 0.0 < min_effect <= 1.0:
            raise ValueError(f"min_effect must be in (0, 1], got {min_effect}")
        effect, source = float(min_effect), "the minimum effect of"
    else:
        effect, source = abs(observed), "the observed difference of"
    if effect == 0.0:
        return None, (
            f"Not significant at alpha={alpha:g}; the observed difference is 0, so no sample size can be "
            "estimated (pass min_effect to size a study for a given difference)."
        )
    psi = discordant / n
    psi_note = f"observed discordance {100 * psi:.1f}%"
    if psi < effect:
        psi = effect
        psi_note = f"discordance raised to {100 * psi:.1f}%, the least a difference this size requires"
    needed = mcnemar_sample_size(psi, effect, alpha, power)
    return needed, (
        f"Not significant at alpha={alpha:g}: detecting {source} {100 * effect:.1f} points with "
        f"{100 * power:.0f}% power needs about {needed} paired questions ({psi_note}); "
        f"this comparison has {n}."
    )


# --------------------------------------------------------------------------- bootstrap


def _as_finite_1d(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite numbers")
    return arr


def _bootstrap_mean_of(
    data: np.ndarray, n_resamples: int, confidence: float, seed: int, method: BootstrapMethod
) -> Interval:
    level = _level(confidence, "confidence")
    if _count(n_resamples, "n_resamples") < 1:
        raise ValueError("n_resamples must be >= 1")
    estimate = float(np.mean(data))
    if np.ptp(data) == 0.0:
        # Every resample has the same mean; SciPy would warn and return nan for BCa.
        return Interval(estimate, estimate, estimate, level)
    result = _scipy_stats().bootstrap(
        (data,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=level,
        method=method,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low = float(result.confidence_interval.low)
    high = float(result.confidence_interval.high)
    return Interval(estimate, low, high, level)


def bootstrap_mean(
    values: Sequence[float],
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    method: BootstrapMethod = "BCa",
) -> Interval:
    """Bootstrap confidence interval for the mean of a non-binary score (rubric, weighted score).

    Such scores have no convenient closed-form distribution, so the interval is
    obtained by resampling questions (SciPy's ``bootstrap``; BCa by default,
    which corrects for the skew typical of bounded scores).  A fixed ``seed``
    makes the reported interval reproducible run to run.  If all values are
    equal the interval is the single point.
    """
    return _bootstrap_mean_of(_as_finite_1d(values, "values"), n_resamples, confidence, seed, method)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    method: BootstrapMethod = "BCa",
) -> Interval:
    """Paired bootstrap interval for ``mean(b - a)`` over the same, aligned questions.

    Questions are resampled as pairs, which is the same as resampling the
    per-question differences ``b - a``; that keeps each question's shared
    difficulty out of the comparison, giving a much narrower interval than
    bootstrapping the two runs independently.  Deterministic for a given ``seed``.
    """
    xa = _as_finite_1d(a, "a")
    xb = _as_finite_1d(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"runs must be aligned: {xa.size} vs {xb.size} scores")
    return _bootstrap_mean_of(xb - xa, n_resamples, confidence, seed, method)


# --------------------------------------------------------------------------- letter-position bias


def letter_bias(
    chosen: Sequence[str], option_counts: Sequence[int], *, min_expected: float = MIN_EXPECTED_COUNT
) -> LetterBias:
    """χ² goodness-of-fit test for a preference for particular answer letters.

    A model without position bias picks each of a question's ``k`` letters with
    probability ``1/k`` *if* the correct answers are evenly placed; so the
    expected count for a letter is the sum, over questions offering it, of
    ``1/k``.  This handles mixed option counts (a 4-option question adds 0.25 to
    each of A–D, a 10-option question 0.1 to each of A–J).  Only parseable
    answers are passed in: ``chosen[i]`` is the letter picked for a question with
    ``option_counts[i]`` options.

    The χ² approximation needs expected counts of at least ``min_expected``
    (5 by default) per bin, so letters below it (the rare late letters of the
    few many-option questions, typically) are pooled into one ``"rest"`` bin; if
    that bin is itself still too small, the next-smallest letters join it.  When
    fewer than two valid bins remain there are too few answers for a test and the
    p-value is nan, with ``note`` saying so.  Test: SciPy's ``chisquare``.
    """
    if len(chosen) != len(option_counts):
        raise ValueError(f"chosen and option_counts must be aligned: {len(chosen)} vs {len(option_counts)}")
    letters = string.ascii_uppercase
    observed_arr = np.zeros(len(letters), dtype=np.int64)
    questions_with_k = np.zeros(len(letters) + 1, dtype=np.int64)
    for letter, k_raw in zip(chosen, option_counts, strict=True):
        k = _count(k_raw, "option count")
        if not 2 <= k <= len(letters):
            raise ValueError(f"option count must be between 2 and {len(letters)}, got {k}")
        token = str(letter).strip().upper()
        idx = letters.find(token) if len(token) == 1 else -1
        if not 0 <= idx < k:
            raise ValueError(f"answer {letter!r} is not one of the {k} letters A–{letters[k - 1]}")
        observed_arr[idx] += 1
        questions_with_k[k] += 1
    # Letter i is offered by every question with more than i options; summing n_k / k per
    # option count (rather than adding 1/k per question) keeps e.g. 50 × 1/10 exactly 5.
    share = questions_with_k / np.maximum(np.arange(len(letters) + 1), 1)
    expected_arr = np.cumsum(share[::-1])[::-1][1:]

    n = len(chosen)
    used = int(np.max(np.nonzero(expected_arr)[0])) + 1 if n else 0
    observed = {letters[i]: int(observed_arr[i]) for i in range(used)}
    expected = {letters[i]: float(expected_arr[i]) for i in range(used)}

    def result(chi2: float, dof: int, p: float, pooled: tuple[str, ...], note: str) -> LetterBias:
        return LetterBias(n, observed, expected, chi2, dof, p, pooled, note)

    if n == 0:
        return result(math.nan, 0, math.nan, (), "no parseable answers; no test possible")

    # Tolerance so that float dust does not push an expected count of exactly 5 below 5.
    threshold = min_expected * (1.0 - 1e-9)
    keep = [x for x in expected if expected[x] >= threshold]
    pooled = [x for x in expected if expected[x] < threshold]
    while pooled and keep and sum(expected[x] for x in pooled) < threshold:
        # Pool the smallest kept letter (the later one on ties) until "rest" is big enough.
        smallest = min(reversed(keep), key=lambda x: expected[x])
        keep.remove(smallest)
        pooled.append(smallest)
    pooled_t = tuple(sorted(pooled))
    bins = len(keep) + (1 if pooled else 0)
    if bins < 2:
        return result(
            math.nan,
            0,
            math.nan,
            pooled_t,
            f"too few answers ({n}) for a χ² test: fewer than two bins reach an expected count "
            f"of {min_expected:g}",
        )

    obs = [observed[x] for x in keep]
    exp = [expected[x] for x in keep]
    if pooled:
        obs.append(sum(observed[x] for x in pooled))
        exp.append(sum(expected[x] for x in pooled))
    test = _scipy_stats().chisquare(np.asarray(obs, dtype=float), np.asarray(exp, dtype=float))
    note = ""
    if pooled:
        note = (
            f"letters {', '.join(pooled_t)} pooled into one 'rest' bin "
            f"(expected count below {min_expected:g} each)"
        )
    return result(float(test.statistic), bins - 1, float(test.pvalue), pooled_t, note)


# --------------------------------------------------------------------------- pass@k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from ``n`` samples of which ``c`` passed.

    pass@k is the probability that at least one of ``k`` samples passes.  Taking
    the best of the first ``k`` samples is noisy and biased when more samples
    were drawn; the unbiased estimator averages over all size-``k`` subsets::

        pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n-c+1}^{n} (1 - k / i)

    The product form avoids the huge binomial coefficients of large ``n``.
    Requires ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    n = _count(n, "n")
    c = _count(c, "c")
    k = _count(k, "k")
    if n == 0:
        raise ValueError("n must be >= 1")
    if c > n:
        raise ValueError(f"c ({c}) cannot exceed n ({n})")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n ({n}), got {k}")
    if n - c < k:
        # Every subset of size k contains at least one passing sample.
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))
