"""Features at mined mismatches: the cached walk reads what fresh forwards read; the logit features by hand."""

from __future__ import annotations

import math

import pytest
import torch

from tiny_models import tiny_model
from verispec.backends import TransformersBackend
from verispec.judge.features import LOGIT_FEATURES, logit_features
from verispec.training.judge.mining.features import extract_mined_features
from verispec.training.judge.mining.records import MinedData, MinedItem, MinedMismatch

PROMPT, ANSWER = [5, 9, 12, 40], [7, 8, 30, 31, 32, 33, 34, 35]
POSITIONS, DRAFTED = [0, 3, 4, 7], [50, 51, 52, 53]


def mined() -> MinedData:
    item = MinedItem("t", "1", "math", PROMPT, ANSWER, "3", True, "eos", POSITIONS, DRAFTED, POSITIONS, "d", "v", "torch")
    data = MinedData(items={("t", "1"): item})
    data.mismatches[("t", "1")] = {p: MinedMismatch("t", "1", p, x, ANSWER[p], p == 3, "3", True, "eos", 2)
                                   for p, x in zip(POSITIONS[1:], DRAFTED[1:])}  # position 0 not labelled
    return data


def fresh(backend: TransformersBackend, tokens: list[int]):
    backend.reset()
    return backend.forward(tokens, hidden=True)


def test_the_walk_reads_what_fresh_forwards_read(tmp_path):
    verifier, draft = TransformersBackend(tiny_model(0).float()), TransformersBackend(tiny_model(1).float())
    features = extract_mined_features(mined(), verifier, draft, cache_dir=tmp_path, progress=False)
    assert len(features) == 3 and features.important.tolist() == [True, False, False]
    assert features.items == ("t/1",) * 3 and features.logits.shape == (3, len(LOGIT_FEATURES))
    for row, (p, x) in enumerate(zip(POSITIONS[1:], DRAFTED[1:])):
        before = [*PROMPT, *ANSWER[:p]]
        torch.testing.assert_close(features.verifier_hidden[row], fresh(verifier, [*before, x]).hidden[-1], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(features.draft_hidden[row], fresh(draft, before).hidden[-1], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(features.verifier_context[row], fresh(verifier, before).hidden[-1], atol=1e-4, rtol=1e-4)
        expected = logit_features(fresh(verifier, before).logits[-1:], fresh(draft, before).logits[-1:], torch.tensor([x]))[0]
        torch.testing.assert_close(features.logits[row], expected, atol=1e-4, rtol=1e-4)
        after = [*before, x]
        agrees = fresh(verifier, after).logits[-1].argmax() == fresh(draft, after).logits[-1].argmax()
        assert bool(features.lookahead[row]) == bool(agrees)
    again = extract_mined_features(mined(), verifier, draft, cache_dir=tmp_path, progress=False)  # from the cache
    assert torch.equal(again.logits, features.logits) and len(list(tmp_path.iterdir())) == 1


def test_logit_features_by_hand():
    q = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    p = torch.log(torch.tensor([0.25, 0.5, 0.25]))
    values = dict(zip(LOGIT_FEATURES, logit_features(q[None], p[None], torch.tensor([1]))[0].tolist()))
    assert values["verifier_logp"] == pytest.approx(math.log(0.25))
    assert values["verifier_gap"] == pytest.approx(math.log(2))
    assert values["verifier_entropy"] == pytest.approx(1.5 * math.log(2))
    assert values["draft_logp"] == pytest.approx(math.log(0.5))
    assert values["draft_logp_of_verifier_choice"] == pytest.approx(math.log(0.25))
    assert values["kl_draft_verifier"] == pytest.approx(0.25 * math.log(0.5) + 0.5 * math.log(2))


def test_a_draft_without_a_distribution_gives_finite_features():
    q = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    one_hot = torch.tensor([[float("-inf"), 0.0, float("-inf")]])  # prompt lookup's draft
    values = dict(zip(LOGIT_FEATURES, logit_features(q, one_hot, torch.tensor([1]))[0].tolist()))
    assert values["draft_logp"] == 0.0 and values["draft_entropy"] == 0.0
    assert values["kl_draft_verifier"] == pytest.approx(-math.log(0.25))
    assert values["draft_logp_of_verifier_choice"] == -100.0  # log 0, kept finite
