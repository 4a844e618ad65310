"""Training on mined mismatches: grouped CV finds a real signal, the saved head scores as the fitted model does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from verispec.judge.features import LOGIT_FEATURES
from verispec.judge.head import JudgeHead, VerifierIdentity
from verispec.training.judge.mining.features import MismatchFeatures
from verispec.training.judge.mining.fit import MinedFitConfig, cross_validate, design, fit_mined
from verispec.training.judge.mining.train import MinedTrainConfig, token_class, train_mined_head

pytest.importorskip("sklearn")


def synthetic(n: int = 240, items: int = 40, signal: float = 2.0, seed: int = 0) -> MismatchFeatures:
    """Important mismatches have a lower verifier log-probability (plus noise); the hidden states are noise."""
    rng = np.random.default_rng(seed)
    important = rng.random(n) < 0.25
    logits = rng.normal(size=(n, len(LOGIT_FEATURES)))
    logits[:, 0] -= signal * important
    return MismatchFeatures(
        verifier_hidden=torch.tensor(rng.normal(size=(n, 8)), dtype=torch.float32),
        verifier_context=torch.tensor(rng.normal(size=(n, 8)), dtype=torch.float32),
        draft_hidden=torch.tensor(rng.normal(size=(n, 4)), dtype=torch.float32),
        logits=torch.tensor(logits, dtype=torch.float32), important=torch.tensor(important),
        lookahead=torch.tensor(rng.random(n) < 0.8), items=tuple(f"t/{i % items}" for i in range(n)),
        tasks=tuple("math" if i % 2 else "code" for i in range(n)),
        tokens=tuple((i % 3, i % 3) for i in range(n)),
        correct=torch.tensor([[i % 4 != 0, not imp if i % 4 else False] for i, imp in enumerate(important)]),
    )


def test_grouped_cv_finds_the_signal_and_not_in_noise():
    assert cross_validate(synthetic(), MinedFitConfig(("logits",))).auc > 0.8
    assert cross_validate(synthetic(), MinedFitConfig(("verifier_hidden",))).auc < 0.65


def test_the_saved_head_scores_as_the_fitted_model_and_meets_its_recall(tmp_path):
    features = synthetic()
    identity = VerifierIdentity("v", 8, 100, 2)
    config = MinedTrainConfig(blocks=("verifier_hidden", "logits"), target_recall=0.8, fit=MinedFitConfig(folds=4))
    head, report = train_mined_head(features, identity, config, data={"labels": len(features)}, precision="gguf:v.gguf",
                                    token_text=lambda t: ["7", "+", "ab"][t])
    assert report.recall >= 0.8 and report.auc > 0.8 and report.auc_harm > 0.8
    assert [round(p["recall"], 3) >= p["target"] for p in report.curve] == [True] * len(report.curve) and set(report.ablations) >= {"logits", "verifier_hidden+logits"}
    assert set(report.by_token_class) == {"digit", "operator", "word"} and report.by_token_class["digit"]["labels"] == 80
    changed = [p["items_changed"] for p in report.curve]  # rejecting more important tokens changes fewer answers
    assert changed == sorted(changed, reverse=True) and 0 < changed[0] <= 1
    loaded = JudgeHead.load(head.save(tmp_path / "h.safetensors"))
    assert loaded.meta.features == ("verifier_hidden", "logits") and loaded.meta.threshold == report.threshold
    assert 0.97 <= float(loaded.familiar(features.verifier_hidden).float().mean()) <= 1.0  # its own states pass
    weight, bias = fit_mined(features, ("verifier_hidden", "logits"), report.c)
    x = design(features, ("verifier_hidden", "logits"))
    expected = 1 / (1 + np.exp(-(x @ weight + bias)))
    got = loaded.scores(torch.cat([features.verifier_hidden, features.logits], dim=1)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_items_changed_counts_items_with_a_kept_important_mismatch():
    from verispec.training.judge.mining.fit import CrossValidation
    from verispec.training.judge.mining.train import _items_changed

    items = np.array(["a", "a", "b", "b", "c"])
    cv = CrossValidation(0.1, 0.7, {}, scores=np.array([0.9, 0.2, 0.6, 0.95, 0.3]),
                         fine=np.array([True, False, False, True, False]), tasks=np.array(["t"] * 5))
    assert _items_changed(items, cv, 0.5) == pytest.approx(1 / 3)  # only b keeps its important token (0.6)
    assert _items_changed(items, cv, 0.1) == 1.0 and _items_changed(items, cv, 0.7) == 0.0


def test_token_classes():
    assert token_class("12", " the") == "digit" and token_class(" +", " -") == "operator"
    assert token_class(" foo", " bar") == "word" and token_class("\n", " ") == "other"
