"""Lenient and typical acceptance: what they keep beyond the exact rule, and their options."""

import math

import pytest
import torch

from verispec.errors import ConfigError
from verispec.provenance import Provenance
from verispec.rules import LenientRule, TypicalRule, VerifyInput
from verispec.rules.base import residual_distribution
from verispec.sampling import SamplingParams


def make_input(draft, q_rows, p_rows, params, seed=0):
    return VerifyInput(
        draft_tokens=torch.tensor(draft),
        draft_logits=torch.log(torch.tensor(q_rows)),
        target_logits=torch.log(torch.tensor(p_rows)),
        params=params,
        generator=torch.Generator().manual_seed(seed),
    )


def test_lenient_keeps_with_probability_p_over_l_q():
    # p(x)=0.3, q(x)=0.6: exact keeps w.p. 0.5, lenient l=0.5 always keeps.
    p, q = [[0.3, 0.7], [0.5, 0.5]], [[0.6, 0.4]]
    sampling = SamplingParams(temperature=1.0)
    kept_exact = kept_lenient = 0
    for seed in range(400):
        verdict = LenientRule(leniency=0.5).decide(make_input([0], q, p, sampling, seed))
        kept_lenient += verdict.n_accepted
        kept_exact += verdict.provenance[0] is Provenance.EXACT
    assert kept_lenient == 400
    assert 150 < kept_exact < 250  # binomial(400, 0.5): far outside only if the exact flag is wrong


def test_lenient_one_is_the_exact_rule():
    p, q = [[0.3, 0.7], [0.5, 0.5]], [[0.6, 0.4]]
    sampling = SamplingParams(temperature=1.0)
    for seed in range(50):
        verdict = LenientRule(leniency=1.0).decide(make_input([0], q, p, sampling, seed))
        assert Provenance.RELAXED not in verdict.provenance


def test_lenient_residual_uses_scaled_draft():
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    assert torch.allclose(residual_distribution(p, q, scale=0.5), torch.tensor([0.05, 0.45]) / 0.5)


def test_lenient_greedy_keeps_non_argmax_token_the_verifier_finds_likely():
    # argmax of p is token 1, draft proposes 0 with p=0.45 > l*q = 0.5*0.6.
    p, q = [[0.45, 0.55], [0.5, 0.5]], [[0.6, 0.4]]
    verdict = LenientRule(leniency=0.5).decide(make_input([0], q, p, SamplingParams()))
    assert verdict.provenance == (Provenance.RELAXED, Provenance.BONUS)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_lenient_rejects_out_of_range_factor(bad):
    with pytest.raises(ConfigError, match="l must be in"):
        LenientRule(leniency=bad)


def test_typical_threshold_follows_entropy():
    # Peaked p: threshold = min(eps, delta*exp(-H)); token 1 with p=0.2 is above it.
    p_row = [0.75, 0.2, 0.05]
    entropy = -sum(x * math.log(x) for x in p_row)
    threshold = min(0.09, 0.3 * math.exp(-entropy))
    assert 0.2 > threshold > 0.05
    greedy = SamplingParams()
    q = [[0.1, 0.8, 0.1]]
    kept = TypicalRule().decide(make_input([1], q, [p_row, p_row], greedy))
    refused = TypicalRule().decide(make_input([2], q, [p_row, p_row], greedy))
    assert kept.provenance == (Provenance.RELAXED, Provenance.BONUS) and kept.exact_only == (False,)
    assert refused.n_accepted == 0 and refused.next_token == 0


def test_typical_always_keeps_the_verifier_argmax():
    p_row = [0.34, 0.33, 0.33]
    verdict = TypicalRule(epsilon=0.5, delta=10).decide(make_input([0], [[0.4, 0.3, 0.3]], [p_row, p_row], SamplingParams()))
    assert verdict.provenance[0] is Provenance.EXACT
    assert sum(verdict.exact_only) == 1  # p = 0.34 is below the typical threshold 0.5: only the exact test kept it


def test_typical_rejects_bad_options():
    with pytest.raises(ConfigError):
        TypicalRule(epsilon=0)
    with pytest.raises(ConfigError):
        TypicalRule(delta=-1)
