import random

from starling_eval.stats import bootstrap_ci, mean, pooled_mean


def test_pooled_mean_is_over_rows_not_over_cluster_means():
    assert pooled_mean([[1.0, 3.0], [8.0]]) == 4.0
    assert mean([]) is None


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = random.Random(1)
    clusters = {i: [rng.uniform(1, 10), rng.uniform(1, 10)] for i in range(80)}
    lo, hi = bootstrap_ci(clusters, seed=3)
    assert bootstrap_ci(clusters, seed=3) == (lo, hi)
    assert bootstrap_ci(clusters, seed=4) != (lo, hi)
    assert lo < pooled_mean(list(clusters.values())) < hi
    assert 0.3 < hi - lo < 1.5  # ~ 4 standard errors of a mean of 160 uniform(1, 10) draws


def test_bootstrap_needs_two_clusters():
    assert bootstrap_ci({1: [5.0]}) is None
    assert bootstrap_ci({1: [5.0], 2: [5.0]}) == (5.0, 5.0)
