"""Paired significance tests between two systems scored on the same queries (scipy.stats)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

from explorer.errors import ConfigError
from explorer.views.number_format import change_text, metric_text, p_value_text

Test = Literal["paired t-test", "wilcoxon signed-rank", "permutation"]
TESTS: tuple[Test, ...] = ("paired t-test", "wilcoxon signed-rank", "permutation")
TIE = 1e-9  # per-query differences smaller than this count as ties
Verdict = Literal["helps", "hurts", "unclear", "untested"]


@dataclass(frozen=True)
class PairedComparison:
    """A paired test of system b against system a on one metric: the means, wins, losses, ties and p-value."""

    test: Test
    metric: str
    n_queries: int
    mean_a: float
    mean_b: float
    wins: int  # queries where b beats a
    losses: int
    ties: int
    p_value: float | None  # None when the test cannot run (all ties, or fewer than 2 queries)
    note: str = ""

    @property
    def mean_delta(self) -> float:
        """Mean of b minus mean of a: positive when b scores higher."""
        return self.mean_b - self.mean_a

    def verdict(self, alpha: float = 0.05, what: str = "the reranker") -> tuple[Verdict, str]:
        """What the test says of system b (``what`` names it), plainly, with the summary: "helps" and "hurts" only
        when significant at ``alpha``; "untested" when no test could run (too few queries, or every query tied)."""
        if self.p_value is None:
            return "untested", f"No paired test could run, so nothing can be said either way. {self.summary(alpha)}"
        if self.p_value >= alpha:
            lead = "ahead" if self.mean_delta > 0 else "behind" if self.mean_delta < 0 else "level"
            verb = "are" if what.endswith("s") else "is"
            return "unclear", f"No significant difference ({what} {verb} {lead} on average). {self.summary(alpha)}"
        if self.mean_delta > 0:
            return "helps", f"{what[:1].upper()}{what[1:]} {'help' if what.endswith('s') else 'helps'}: " \
                            f"{self.summary(alpha)}"
        return "hurts", f"{what[:1].upper()}{what[1:]} {'make' if what.endswith('s') else 'makes'} it worse: " \
                        f"{self.summary(alpha)}"

    def summary(self, alpha: float = 0.05) -> str:
        """One line for a page: means, change, wins/losses/ties and the verdict at ``alpha``, or why no test ran."""
        if self.p_value is None:
            return f"{self.test}: not computed ({self.note})"
        verdict = "significant" if self.p_value < alpha else "not significant"
        return (f"{self.metric}: {metric_text(self.mean_a)} → {metric_text(self.mean_b)} "
                f"(Δ {change_text(self.mean_delta)}); "
                f"{self.wins} wins, {self.losses} losses, {self.ties} ties over {self.n_queries} queries; "
                f"{self.test} p = {p_value_text(self.p_value)}, {verdict} at α = {alpha:g}")


def paired_test(a: Mapping[str, float], b: Mapping[str, float], metric: str,
                test: Test = "paired t-test", seed: int = 0) -> PairedComparison:
    """Is system b different from system a on ``metric``? Two-sided, over the queries both have scores for."""
    import numpy as np
    from scipy import stats

    if test not in TESTS:
        raise ConfigError(f"Unknown test {test!r}; choose one of: {', '.join(TESTS)}.")
    queries = sorted(set(a) & set(b))
    if not queries:
        raise ConfigError("The two systems share no evaluated query; evaluate them on the same split.")
    x = np.array([a[q] for q in queries], dtype=float)
    y = np.array([b[q] for q in queries], dtype=float)
    delta = y - x
    wins, losses = int((delta > TIE).sum()), int((delta < -TIE).sum())
    ties = len(queries) - wins - losses
    common = dict(test=test, metric=metric, n_queries=len(queries), mean_a=float(x.mean()), mean_b=float(y.mean()),
                  wins=wins, losses=losses, ties=ties)
    if len(queries) < 2:
        return PairedComparison(**common, p_value=None, note="needs at least 2 queries")
    if wins + losses == 0:
        return PairedComparison(**common, p_value=None, note="the two systems score every query the same")
    if test == "paired t-test":
        p_value = float(stats.ttest_rel(y, x).pvalue)
    elif test == "wilcoxon signed-rank":
        p_value = float(stats.wilcoxon(y, x, zero_method="wilcox").pvalue)
    else:
        result = stats.permutation_test((y, x), lambda s, t: np.mean(s - t), permutation_type="samples",
                                        n_resamples=10_000, alternative="two-sided",
                                        rng=np.random.default_rng(seed))
        p_value = float(result.pvalue)
    return PairedComparison(**common, p_value=p_value)
