"""The judge rule with hand-made hidden states and a hand-set head: exact ∪ (score ≥ θ), longest prefix."""

import itertools
import math
from dataclasses import replace

import pytest
import torch

from verispec.errors import ConfigError, JudgeHeadMismatchError
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.provenance import Provenance
from verispec.rules import ExactRule, JudgeRule, VerifyInput
from verispec.sampling import SamplingParams

GREEDY = SamplingParams()
SAMPLING = SamplingParams(temperature=1.0)
WIDTH = 4
# The head reads only the first hidden coordinate: score = σ(h[0]).
HEAD = JudgeHead(
    weight=torch.tensor([1.0, 0.0, 0.0, 0.0]),
    bias=torch.tensor(0.0),
    meta=HeadMetadata(VerifierIdentity("hand-made", WIDTH, 3, 1), threshold=0.5),
)


def hidden_for(scores):
    """Hidden states whose judge scores are ``scores`` (the other coordinates are noise the head ignores)."""
    logits = torch.tensor([math.log(s / (1 - s)) for s in scores])
    return torch.cat([logits[:, None], torch.randn(len(scores), WIDTH - 1)], dim=1)


def unrecorded(verdict):
    """The verdict without what only a relaxed rule records (to compare it with the exact rule's)."""
    return replace(verdict, exact_only=None, scores=None, stop_score=None, stop_check=None)


def greedy_input(exact_mask, scores):
    """The verifier's argmax is token 0 everywhere (bonus row: token 2); drafts are 0 where exact keeps."""
    gamma = len(exact_mask)
    p_rows = [[0.6, 0.3, 0.1]] * gamma + [[0.1, 0.2, 0.7]]
    return VerifyInput(
        draft_tokens=torch.tensor([0 if e else 1 for e in exact_mask]),
        draft_logits=torch.zeros(gamma, 3),
        target_logits=torch.log(torch.tensor(p_rows)),
        params=GREEDY,
        hidden=hidden_for(scores),
    )


@pytest.mark.parametrize("exact_mask", list(itertools.product([False, True], repeat=4)))
def test_keeps_longest_prefix_of_exact_or_judged(exact_mask):
    for judged_mask in itertools.product([False, True], repeat=4):
        scores = [0.9 if j else 0.1 for j in judged_mask]
        verdict = JudgeRule(head=HEAD, threshold=0.5).decide(greedy_input(exact_mask, scores))
        kept = [e or j for e, j in zip(exact_mask, judged_mask)]
        n = next((i for i, k in enumerate(kept) if not k), 4)
        assert verdict.n_accepted == n
        expected = [Provenance.EXACT if exact_mask[i] else Provenance.RELAXED for i in range(n)]
        if n < 4:
            assert verdict.next_token == 0  # the verifier's argmax at the first rejection
            expected.append(Provenance.REPLACED)
        else:
            assert verdict.next_token == 2
            expected.append(Provenance.BONUS)
        assert verdict.provenance == tuple(expected)
        assert sum(verdict.exact_only) == sum(exact_mask[i] and not judged_mask[i] for i in range(n))


def test_score_equal_to_threshold_is_kept_and_just_below_is_not():
    inp = greedy_input([False], [0.5])  # σ(0) = 0.5 exactly
    assert JudgeRule(head=HEAD, threshold=0.5).decide(inp).provenance == (Provenance.RELAXED, Provenance.BONUS)
    above = float(torch.nextafter(torch.tensor(0.5), torch.tensor(1.0)))  # scores compare in float32
    assert JudgeRule(head=HEAD, threshold=above).decide(inp).n_accepted == 0


def test_threshold_above_one_is_the_exact_rule_and_zero_keeps_everything():
    for exact_mask in itertools.product([False, True], repeat=3):
        inp = greedy_input(exact_mask, [0.999, 0.999, 0.999])
        judged = JudgeRule(head=HEAD, threshold=1.01).decide(inp)
        assert unrecorded(judged) == ExactRule().decide(inp)
        assert len(judged.scores) == judged.n_accepted and all(s > 0.99 for s in judged.scores)
        assert sum(judged.exact_only) == judged.n_accepted  # a judge that trusts nothing leaves every kept token to the exact test
        assert JudgeRule(head=HEAD, threshold=0.0).decide(greedy_input(exact_mask, [1e-6] * 3)).n_accepted == 3


def sampling_input(seed, gamma=5, vocab=6):
    gen = torch.Generator().manual_seed(seed)
    q_logits = torch.randn(gamma, vocab, generator=gen)
    draft = torch.multinomial(torch.softmax(q_logits, -1), 1, generator=gen).squeeze(-1)
    return VerifyInput(
        draft_tokens=draft,
        draft_logits=q_logits,
        target_logits=torch.randn(gamma + 1, vocab, generator=gen),
        params=SAMPLING,
        generator=torch.Generator().manual_seed(1000 + seed),
        hidden=torch.randn(gamma, WIDTH, generator=gen),
    )


def test_sampling_with_threshold_above_one_makes_the_exact_rules_draws():
    """Same uniforms, same residual draws: the lossless rule exactly (the judge adds only the OR)."""
    for seed in range(40):
        judged = JudgeRule(head=HEAD, threshold=1.5).decide(sampling_input(seed))
        assert unrecorded(judged) == ExactRule().decide(sampling_input(seed))


def test_sampling_judge_keeps_what_the_lossless_test_rejects_as_relaxed():
    relaxed = exact = 0
    for seed in range(40):
        verdict = JudgeRule(head=HEAD, threshold=0.0).decide(sampling_input(seed))
        assert verdict.n_accepted == 5 and verdict.provenance[-1] is Provenance.BONUS
        relaxed += verdict.provenance.count(Provenance.RELAXED)
        exact += verdict.provenance.count(Provenance.EXACT)
    assert relaxed > 0 and exact > 0  # both decisions really occur


def test_rule_refuses_to_run_without_head_or_hidden_states():
    inp = greedy_input([True], [0.9])
    with pytest.raises(ConfigError, match="no head"):
        JudgeRule(threshold=0.5).decide(inp)
    no_hidden = VerifyInput(inp.draft_tokens, inp.draft_logits, inp.target_logits, GREEDY)
    with pytest.raises(ConfigError, match="hidden states"):
        JudgeRule(head=HEAD, threshold=0.5).decide(no_hidden)


def test_hidden_states_of_another_width_are_refused():
    inp = greedy_input([True], [0.9])
    wide = VerifyInput(inp.draft_tokens, inp.draft_logits, inp.target_logits, GREEDY, hidden=torch.zeros(1, WIDTH + 1))
    with pytest.raises(JudgeHeadMismatchError, match="reads 4 numbers per token"):
        JudgeRule(head=HEAD, threshold=0.5).decide(wide)


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_negative_threshold_is_refused(bad):
    with pytest.raises(ConfigError, match="threshold must be >= 0"):
        JudgeRule(head=HEAD, threshold=bad)


def test_a_head_on_logit_features_needs_no_hidden_states():
    from verispec.judge.features import LOGIT_FEATURES, LOGITS

    # score = σ(10 · log q(x) + 10): keeps a drafted token the verifier gives more than 1/e.
    weight = torch.zeros(len(LOGIT_FEATURES))
    weight[LOGIT_FEATURES.index("verifier_logp")] = 10.0
    meta = HeadMetadata(VerifierIdentity("hand-made", WIDTH, 3, 1), threshold=0.5, features=(LOGITS,))
    rule = JudgeRule(head=JudgeHead(weight, torch.tensor(10.0), meta), threshold=0.5)
    assert not rule.needs_hidden and JudgeRule(head=HEAD).needs_hidden
    inp = greedy_input([False, False], [0.5, 0.5])  # drafts token 1: q = 0.3 > 1/e? no: log 0.3 = -1.2 < -1
    no_hidden = replace(inp, hidden=None)
    assert rule.decide(no_hidden).n_accepted == 0
    likely = replace(no_hidden, target_logits=torch.log(torch.tensor([[0.5, 0.45, 0.05]] * 2 + [[0.1, 0.2, 0.7]])))
    verdict = rule.decide(likely)
    assert verdict.n_accepted == 2 and verdict.provenance[:2] == (Provenance.RELAXED, Provenance.RELAXED)


def test_head_metadata_round_trips_its_feature_blocks(tmp_path):
    from verispec.judge.features import LOGIT_FEATURES, LOGITS, VERIFIER_HIDDEN, check_blocks

    meta = HeadMetadata(VerifierIdentity("hand-made", WIDTH, 3, 1), threshold=0.3, features=(VERIFIER_HIDDEN, LOGITS))
    head = JudgeHead(torch.zeros(WIDTH + len(LOGIT_FEATURES)), torch.tensor(0.0), meta)
    loaded = JudgeHead.load(head.save(tmp_path / "h.safetensors"))
    assert loaded.meta.features == (VERIFIER_HIDDEN, LOGITS) and loaded.width == WIDTH + len(LOGIT_FEATURES)
    assert JudgeHead.load(HEAD.save(tmp_path / "old.safetensors")).meta.features == (VERIFIER_HIDDEN,)
    with pytest.raises(ConfigError, match="feature blocks"):
        check_blocks(("verifier_hidden", "draft_hidden"))  # decoding does not keep the draft's states


def test_a_head_on_the_context_state_reads_the_state_that_predicted_each_slot():
    from verispec.judge.features import VERIFIER_CONTEXT, VERIFIER_HIDDEN

    meta = HeadMetadata(VerifierIdentity("hand-made", WIDTH, 3, 1), threshold=0.5, features=(VERIFIER_HIDDEN, VERIFIER_CONTEXT))
    weight = torch.cat([torch.zeros(WIDTH), torch.tensor([1.0, 0.0, 0.0, 0.0])])  # score = σ(context[0])
    rule = JudgeRule(head=JudgeHead(weight, torch.tensor(0.0), meta), threshold=0.5)
    inp = replace(greedy_input([False, False, False], [0.9, 0.9, 0.9]), context_hidden=hidden_for([0.9, 0.9, 0.1]))
    verdict = rule.decide(inp)
    assert rule.needs_hidden and verdict.n_accepted == 2 and verdict.scores == pytest.approx((0.9, 0.9))
    with pytest.raises(ConfigError, match="verifier_context"):
        rule.decide(replace(inp, context_hidden=None))


def test_the_lookahead_guard_trusts_a_mismatch_only_when_the_verifier_predicts_the_next_drafted_token():
    sure = [0.9, 0.9, 0.9]
    plain, guarded = JudgeRule(head=HEAD, threshold=0.5), JudgeRule(head=HEAD, threshold=0.5, lookahead=True)
    assert plain.decide(greedy_input([False, True, False], sure)).n_accepted == 3
    verdict = guarded.decide(greedy_input([False, True, False], sure))  # the last token has nothing to look ahead to
    assert verdict.n_accepted == 2 and verdict.provenance[:2] == (Provenance.RELAXED, Provenance.EXACT)
    assert guarded.decide(greedy_input([False, False, True], sure)).n_accepted == 0  # token 1 is not predicted
    assert guarded.decide(greedy_input([True, True, True], sure)).n_accepted == 3  # the exact check is untouched
    assert JudgeRule(lookahead=True).with_head(HEAD).lookahead


def test_a_rejection_records_the_drafted_tokens_score_and_the_first_check_it_failed():
    verdict = JudgeRule(head=HEAD, threshold=0.5).decide(greedy_input([True, False, False], [0.2, 0.9, 0.3]))
    assert verdict.n_accepted == 2 and verdict.stop_check == "score"
    assert verdict.stop_score == pytest.approx(0.3, abs=1e-6)
    guarded = JudgeRule(head=HEAD, threshold=0.5, lookahead=True).decide(greedy_input([False, False, True], [0.9] * 3))
    assert guarded.n_accepted == 0 and guarded.stop_check == "lookahead" and guarded.stop_score > 0.5
    below = JudgeRule(head=HEAD, threshold=0.5, lookahead=True).decide(greedy_input([False, False, True], [0.1] * 3))
    assert below.stop_check == "score"  # checks are named in the order the rule applies them
    kept_all = JudgeRule(head=HEAD, threshold=0.5).decide(greedy_input([False, True], [0.9, 0.1]))
    assert kept_all.provenance[-1] is Provenance.BONUS and kept_all.stop_check is None and kept_all.stop_score is None
    exact = ExactRule().decide(greedy_input([True, False], [0.9, 0.9]))
    assert exact.n_accepted == 1 and exact.stop_check is None and exact.stop_score is None  # no relaxed test, nothing named


def test_the_strict_guard_asks_more_of_digit_and_operator_tokens():
    careful = torch.tensor([False, True, False])  # token 1 is a digit
    inp = greedy_input([False, False], [0.9, 0.9])  # drafts token 1 twice; the verifier prefers token 0
    assert JudgeRule(head=HEAD, threshold=0.5).decide(inp).n_accepted == 2
    strict = JudgeRule(threshold=0.5, strict=0.95).with_head(HEAD, careful).decide(inp)
    assert strict.n_accepted == 0 and strict.stop_check == "strict"
    assert JudgeRule(threshold=0.5, strict=0.8).with_head(HEAD, careful).decide(inp).n_accepted == 2
    plain = torch.tensor([False, False, False])
    assert JudgeRule(threshold=0.5, strict=0.95).with_head(HEAD, plain).decide(inp).n_accepted == 2
    with pytest.raises(ConfigError, match="vocabulary"):
        JudgeRule(threshold=0.5, strict=0.95).with_head(HEAD)


def test_careful_tokens_are_digits_and_operators():
    from tiny_models import byte_tokenizer
    from verispec.judge.features import careful_tokens

    tokenizer = byte_tokenizer()
    mask = careful_tokens(tokenizer)
    ids = {c: tokenizer.convert_tokens_to_ids(c) for c in "7+a "}
    assert mask[ids["7"]] and mask[ids["+"]] and not mask[ids["a"]] and len(mask) == len(tokenizer)
