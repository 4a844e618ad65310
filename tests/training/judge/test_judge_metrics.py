"""Judge metrics: ROC-AUC, θ for a target recall, the θ curve and agreement with the exact check."""

import pytest
import torch

from verispec.errors import ConfigError, JudgeDataError
from verispec.training.judge.metrics import agreement, evaluate_scores, roc_auc, threshold_for_recall, threshold_point


def test_roc_auc_matches_scikit_learn_with_ties():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 7, (300,), generator=gen).float() / 7  # many ties
    labels = torch.rand(300, generator=gen) < 0.3 + 0.4 * scores
    assert roc_auc(scores, labels) == pytest.approx(sklearn_metrics.roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-12)


def test_roc_auc_extremes():
    scores = torch.tensor([0.1, 0.2, 0.8, 0.9])
    assert roc_auc(scores, torch.tensor([False, False, True, True])) == 1.0
    assert roc_auc(scores, torch.tensor([True, True, False, False])) == 0.0
    assert roc_auc(scores, torch.ones(4, dtype=torch.bool)) is None


def test_threshold_is_the_most_permissive_one_reaching_the_target_recall():
    bad_scores = torch.arange(1, 11, dtype=torch.float32) / 10  # 0.1 ... 1.0
    scores = torch.cat([bad_scores, torch.full((5,), 0.95)])
    good = torch.cat([torch.zeros(10, dtype=torch.bool), torch.ones(5, dtype=torch.bool)])
    theta = threshold_for_recall(scores, good, 0.9)
    assert threshold_point(scores, good, torch.zeros(15, dtype=torch.bool), theta).bad_recall == 0.9
    assert 0.9 < theta < 0.9 + 1e-6
    # The exact ninth-lowest bad score would keep that bad token: recall falls below the target.
    assert threshold_point(scores, good, torch.zeros(15, dtype=torch.bool), float(bad_scores[8])).bad_recall == 0.8
    with pytest.raises(JudgeDataError, match="no bad tokens"):
        threshold_for_recall(scores[10:], good[10:], 0.9)
    with pytest.raises(ConfigError, match="target recall"):
        threshold_for_recall(scores, good, 0.0)


def test_rule_numbers_include_the_exact_check_and_agreement_counts_decisions():
    scores = torch.tensor([0.9, 0.9, 0.1, 0.1, 0.9, 0.1])
    good = torch.tensor([True, True, True, True, False, False])
    exact = torch.tensor([True, False, True, False, False, True])
    point = threshold_point(scores, good, exact, 0.5)
    assert (point.bad_recall, point.good_acceptance) == (0.5, 0.5)
    assert (point.rule_bad_recall, point.rule_good_acceptance) == (0.0, 0.75)
    a = agreement(scores, good, exact, 0.5)
    assert (a.both_keep, a.exact_only, a.judge_only, a.neither) == (1, 2, 2, 1)
    assert (a.bad_kept_by_exact, a.bad_kept_by_judge) == (1, 1)
    metrics = evaluate_scores(scores, good, exact, 0.5)
    assert (metrics.tokens, metrics.good, metrics.bad) == (6, 4, 2)
    assert len(metrics.curve) == 51 and metrics.curve[0].good_acceptance == 1.0 and metrics.curve[-1].bad_recall == 1.0
