"""The `judge` method end to end on tiny fp32 models: θ > 1 is `sd`, θ = 0 keeps every draft, long drafts."""

from collections import Counter
from dataclasses import replace

import pytest
import torch

from tiny_models import byte_tokenizer, noisy_copy, tiny_model
from verispec import Pipeline, Provenance
from verispec.errors import ConfigError, JudgeHeadMismatchError, JudgeHeadNotFoundError
from verispec.judge.features import LOGIT_FEATURES
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.methods import Method


@pytest.fixture(scope="module")
def pipe():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 1, 0.05), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")


@pytest.fixture(scope="module")
def head_path(pipe, tmp_path_factory):
    """A random head (scores spread over (0, 1)) for the pipeline's verifier, θ = 0.5 by default."""
    identity = VerifierIdentity.of(pipe.verifier.backend)
    weight = torch.randn(identity.hidden_size, generator=torch.Generator().manual_seed(0))
    head = JudgeHead(weight, torch.tensor(0.0), HeadMetadata(identity, threshold=0.5))
    return head.save(tmp_path_factory.mktemp("heads") / "tiny.safetensors")


def run(pipe, method, **options):
    return pipe.generate("Say something.", method=method, max_new_tokens=options.pop("max_new_tokens", 40), **options)


@pytest.mark.parametrize("drafting", ["gamma=4,adaptive=false", "gamma=3,adaptive=true", "gamma=32,adaptive=false"])
def test_threshold_above_one_reproduces_sd_greedy(pipe, head_path, drafting):
    expected = run(pipe, f"sd:{drafting}")
    got = run(pipe, f"judge:{drafting},threshold=1.5,head={head_path}")
    assert got.token_ids == expected.token_ids and got.provenance == expected.provenance
    assert got.token_ids == run(pipe, "verifier").token_ids  # fp32 greedy sd is the verifier's output


def test_threshold_above_one_reproduces_sd_sampling(pipe, head_path):
    sampling = {"temperature": 0.8, "top_k": 50, "seed": 7}
    expected = run(pipe, "sd:gamma=4,adaptive=true", **sampling)
    assert run(pipe, f"judge:gamma=4,threshold=1.5,head={head_path}", **sampling).token_ids == expected.token_ids


def test_threshold_zero_keeps_every_drafted_token(pipe, head_path):
    result = run(pipe, f"judge:gamma=5,adaptive=false,stop_below=0,threshold=0,head={head_path}")
    assert Provenance.REPLACED not in result.provenance
    assert result.stats.accepted == result.stats.proposed > 0
    # Every kept drafted token is the draft model's own greedy choice: draft-only text plus bonus tokens.
    ids = torch.tensor([result.prompt_token_ids + result.token_ids])
    draft_choice = pipe.draft.model(input_ids=ids).logits[0, len(result.prompt_token_ids) - 1 : -1].argmax(-1)
    drafted = [p.accepted_draft for p in result.provenance]
    assert draft_choice[drafted].tolist() == [t for t, d in zip(result.token_ids, drafted) if d]


def test_the_head_decides_with_relaxed_provenance_and_sampling_runs(pipe, head_path):
    greedy = run(pipe, f"judge:gamma=6,head={head_path}", max_new_tokens=60)
    assert {Provenance.EXACT, Provenance.RELAXED, Provenance.REPLACED} <= set(greedy.provenance)
    assert greedy.stats.provenance_counts["relaxed"] == greedy.provenance.count(Provenance.RELAXED)
    assert 0 <= greedy.stats.exact_only <= greedy.provenance.count(Provenance.EXACT)
    assert run(pipe, "sd:gamma=6").stats.exact_only is None
    # Recorded: the head's score of every kept drafted token (≥ θ where it alone kept it), per round
    # how many the judge alone kept.
    scored = [(p, s) for p, s in zip(greedy.provenance, greedy.rule_scores) if s is not None]
    assert len(greedy.rule_scores) == len(greedy.token_ids) and {p for p, _ in scored} == {Provenance.EXACT, Provenance.RELAXED, Provenance.REPLACED}
    assert all(s >= 0.5 for p, s in scored if p is Provenance.RELAXED)
    # A replaced token carries the score of the drafted token it replaced, and the check that rejected it.
    stops = [(s, why) for p, s, why in zip(greedy.provenance, greedy.rule_scores, greedy.rule_stops) if p is Provenance.REPLACED]
    assert stops and all(s is not None and why in ("score", "gate") for s, why in stops)
    assert all(s < 0.5 for s, why in stops if why == "score")
    assert all(s is None for p, s in zip(greedy.provenance, greedy.rule_scores) if p is Provenance.BONUS)
    assert greedy.stats.stopped_by == dict(Counter(why for _, why in stops))
    histogram = greedy.stats.relaxed_histogram
    assert sum(n * count for n, count in enumerate(histogram)) == greedy.provenance.count(Provenance.RELAXED)
    assert run(pipe, "sd:gamma=6").rule_scores is None
    sampled = run(pipe, f"judge:gamma=6,head={head_path}", temperature=1.0, seed=3, max_new_tokens=60)
    assert len(sampled.token_ids) == len(sampled.provenance) > 20
    assert sampled.finish_reason in ("length", "eos")
    assert Provenance.RELAXED in sampled.provenance


def test_adaptive_drafts_grow_to_32(pipe, head_path):
    result = run(pipe, f"judge:gamma=8,adaptive=true,max_gamma=32,stop_below=0,threshold=0,head={head_path}", max_new_tokens=300)
    assert len(result.stats.accepted_histogram) - 1 == 32  # some round kept 32 drafted tokens
    assert Method.parse("judge").schedule().adaptive and Method.parse("judge:gamma=40").schedule().max_gamma == 40
    with pytest.raises(ConfigError, match="above max_gamma=32; raise max_gamma"):
        Method.parse("judge:gamma=40,max_gamma=32").schedule()


def test_missing_default_head_and_foreign_head_are_refused(pipe, tmp_path):
    with pytest.raises(JudgeHeadNotFoundError, match="no judge head ships for the verifier"):
        run(pipe, "judge")
    identity = VerifierIdentity.of(pipe.verifier.backend)
    foreign = VerifierIdentity("qwen2.5-coder-1.5b-instruct", identity.hidden_size, identity.vocab_size, identity.layer)
    path = JudgeHead(torch.zeros(identity.hidden_size), torch.tensor(0.0), HeadMetadata(foreign, 0.5)).save(tmp_path / "f.safetensors")
    with pytest.raises(JudgeHeadMismatchError, match="trained for qwen2.5-coder-1.5b-instruct"):
        run(pipe, f"judge:head={path}")


def test_unbound_rule_describes_its_options():
    method = Method.parse("judge:threshold=0.3,head=h.safetensors")
    rule = method.rule()  # no file is read until the method is bound to a running verifier
    assert (rule.threshold, rule.head) == (0.3, None) and method.options["head"] == "h.safetensors"


def test_the_strict_guard_runs_in_a_pipeline(pipe, head_path):
    from verispec.judge.features import careful_tokens

    result = run(pipe, f"judge:gamma=6,threshold=0.2,strict=0.99,head={head_path}", max_new_tokens=80)
    careful = careful_tokens(pipe.verifier.tokenizer)
    relaxed = [(t, s) for t, p, s in zip(result.token_ids, result.provenance, result.rule_scores) if p is Provenance.RELAXED]
    assert relaxed and all(s >= 0.99 for t, s in relaxed if careful[t])


def test_a_head_reading_the_drafts_distribution_refuses_another_drafter(pipe, tmp_path):
    identity = VerifierIdentity.of(pipe.verifier.backend)
    width = identity.hidden_size + len(LOGIT_FEATURES)
    meta = HeadMetadata(identity, threshold=0.5, features=("verifier_hidden", "logits"),
                        training={"data": {"draft": "another-draft"}})
    path = JudgeHead(torch.zeros(width), torch.tensor(0.0), meta).save(tmp_path / "logits.safetensors")
    for method in (f"judge:gamma=4,head={path}", f"judge:drafter=lookup,head={path}"):
        with pytest.raises(JudgeHeadMismatchError, match="trained with the draft another-draft, not .*judge mine"):
            run(pipe, method)
    trained_with_this = JudgeHead(torch.zeros(width), torch.tensor(0.0), replace(meta, training={"data": {"draft": pipe.draft.name}}))
    assert run(pipe, f"judge:gamma=4,head={trained_with_this.save(tmp_path / 'mine.safetensors')}").token_ids
