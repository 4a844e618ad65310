"""Training a head: class-weighted logistic regression on a synthetic separable set, θ on validation."""

import pytest
import torch

from verispec.errors import ConfigError, JudgeDataError
from verispec.judge.head import VerifierIdentity
from verispec.training.judge.features import TokenFeatures
from verispec.training.judge.fit import FitConfig, fit_logistic
from verispec.training.judge.train import TrainConfig, train_head

IDENTITY = VerifierIdentity("synthetic", hidden_size=16, vocab_size=100, layer=2)


def synthetic(n_samples=300, good_per_sample=12, seed=0, separation=4.0):
    """Each sample: good tokens, then one bad token (rare: 1 in 13). Bad tokens lie `separation` standard
    deviations away along one direction (best possible AUC Φ(separation/√2): 0.998 at 4),
    on top of large offsets and scales that standardization must handle."""
    gen = torch.Generator().manual_seed(seed)
    per = good_per_sample + 1
    n = n_samples * per
    good = torch.ones(n, dtype=torch.bool)
    good[per - 1 :: per] = False
    direction = torch.randn(16, generator=gen)
    direction /= direction.norm()
    hidden = torch.randn(n, 16, generator=gen) - separation * (~good).float()[:, None] * direction
    hidden = hidden * torch.linspace(0.1, 30, 16) + 50.0
    return TokenFeatures(
        hidden=hidden, good=good, exact=torch.rand(n, generator=gen) < 0.7,
        sample=torch.arange(n_samples).repeat_interleave(per), sample_ids=tuple(f"s{i}" for i in range(n_samples)),
    )


def test_separable_data_gives_a_high_auc_and_the_target_recall():
    outcome = train_head(synthetic(), IDENTITY, TrainConfig(target_recall=0.9, fit=FitConfig(epochs=200)), data={"samples": 300})
    assert outcome.validation.roc_auc > 0.95
    assert outcome.validation.at_threshold.bad_recall >= 0.9
    assert outcome.validation.at_threshold.good_acceptance > 0.7
    meta = outcome.head.meta
    assert meta.threshold == outcome.validation.at_threshold.threshold and meta.target_recall == 0.9
    assert meta.training["validation"]["bad"] == outcome.validation.bad > 0
    assert meta.training["train"]["tokens"] + meta.training["validation"]["tokens"] == 300 * 13
    assert len(meta.metrics["validation"]["curve"]) == 51
    assert outcome.head.weight.shape == (16,) and outcome.head.bias.shape == ()


def test_uninformative_features_give_a_chance_level_auc():
    features = synthetic(separation=0.0)
    outcome = train_head(features, IDENTITY, TrainConfig(fit=FitConfig(epochs=100)))
    assert outcome.validation.roc_auc < 0.65


def test_class_weights_keep_rare_bad_tokens_from_being_ignored():
    features = synthetic(good_per_sample=40, separation=2.0)
    w, b = fit_logistic(features.hidden, features.good, FitConfig(epochs=200))
    scores = torch.sigmoid(features.hidden @ w + b)
    # Balanced classes put the decision boundary between them, not at "everything is good".
    assert (scores[~features.good] < 0.5).float().mean() > 0.6


def test_training_needs_bad_tokens_in_both_splits():
    features = synthetic()
    only_good = features.select(features.good)
    with pytest.raises(JudgeDataError, match="no bad tokens to choose θ on"):
        train_head(only_good, IDENTITY)
    with pytest.raises(JudgeDataError, match="good and bad tokens"):
        fit_logistic(only_good.hidden, only_good.good)


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_sample_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ConfigError, match="sample fraction"):
        TrainConfig(sample_fraction=fraction)
