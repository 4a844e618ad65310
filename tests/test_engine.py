"""The round loop: greedy speculative decoding equals verifier-only greedy decoding, token for token (fp32)."""

import pytest
import torch

from tiny_models import noisy_copy, tiny_model
from verispec.backends import TransformersBackend
from verispec.drafting import ModelDrafter
from verispec.engine import DRAFT_SEAT, Engine, RoundRecord, SoloRounds, SpeculativeRounds
from verispec.provenance import Provenance
from verispec.rules import ExactRule
from verispec.sampling import SamplingParams
from verispec.schedule import DraftSchedule

GREEDY = SamplingParams()


def decode(
    verifier, draft, prompt, *, max_new_tokens, schedule, eos=frozenset(), params=GREEDY, seed=0, stop_below=0.0, drafter=None
):
    """Run the engine with a draft model, or ``drafter``, or verifier-only when both are None.

    Returns (tokens, provenance, records).
    """
    backend = TransformersBackend(verifier)
    if draft is not None:
        drafter = ModelDrafter(TransformersBackend(draft), params, eos_token_ids=eos, stop_below=stop_below, schedule=schedule)
    strategy = SpeculativeRounds(backend, drafter, ExactRule()) if drafter else SoloRounds(backend)
    records = list(
        Engine(strategy, eos_token_ids=eos).rounds(
            prompt, max_new_tokens=max_new_tokens, params=params, generator=torch.Generator().manual_seed(seed)
        )
    )
    tokens = [t for r in records for t in r.tokens]
    provenance = [p for r in records for p in r.provenance]
    return tokens, provenance, records


PROMPTS = {"one token": [7], "many tokens": list(range(30, 90))}
SCHEDULES = {
    "gamma=1": DraftSchedule(gamma=1),
    "gamma=4": DraftSchedule(gamma=4),
    "gamma longer than tokens left": DraftSchedule(gamma=50, max_gamma=50),
    "adaptive": DraftSchedule(gamma=3, adaptive=True),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("prompt_name", PROMPTS)
@pytest.mark.parametrize("schedule_name", SCHEDULES)
@pytest.mark.parametrize("noise", [0.002, 0.05])
def test_greedy_sd_equals_verifier_greedy(seed, prompt_name, schedule_name, noise):
    verifier = tiny_model(seed)
    draft = noisy_copy(verifier, seed + 100, noise)
    prompt = PROMPTS[prompt_name]
    expected, _, _ = decode(verifier, None, prompt, max_new_tokens=37, schedule=DraftSchedule())
    got, provenance, records = decode(verifier, draft, prompt, max_new_tokens=37, schedule=SCHEDULES[schedule_name])
    assert got == expected
    assert len(got) == 37  # max_new_tokens ends mid-draft: never overshoots
    assert len(provenance) == len(got)
    assert sum(r.verifier_forwards for r in records if not r.is_prefill) == sum(1 for r in records if not r.is_prefill)


def test_close_draft_gets_most_tokens_accepted():
    verifier = tiny_model(0)
    _, provenance, _ = decode(verifier, noisy_copy(verifier, 1, 0.002), [1, 2, 3], max_new_tokens=40, schedule=DraftSchedule(gamma=4))
    assert provenance.count(Provenance.EXACT) > 20


def test_eos_inside_a_draft_ends_generation_identically():
    """Small vocabulary with EOS = 3 so that EOS shows up inside drafts; checked over many seeds."""
    eos_in_kept_draft = 0
    for seed in range(12):
        verifier = tiny_model(seed, vocab=12, eos=3, sharpness=0.5)
        draft = noisy_copy(verifier, seed, 0.002)
        expected, _, _ = decode(verifier, None, [5, 6], max_new_tokens=60, schedule=DraftSchedule(), eos=frozenset({3}))
        got, provenance, _ = decode(verifier, draft, [5, 6], max_new_tokens=60, schedule=DraftSchedule(gamma=6), eos=frozenset({3}))
        assert got == expected
        if got[-1] == 3:
            eos_in_kept_draft += provenance[-1] is Provenance.EXACT
    assert eos_in_kept_draft >= 1  # the EOS-inside-a-draft path really ran


def test_draft_stops_at_eos_and_on_low_confidence():
    verifier = tiny_model(0)
    _, _, records = decode(verifier, tiny_model(5), [1, 2], max_new_tokens=30, schedule=DraftSchedule(gamma=8), stop_below=0.9)
    decode_rounds = [r for r in records if not r.is_prefill]
    assert any(r.proposed < 8 for r in decode_rounds[:-1])


def test_solo_decoding_commits_one_token_per_forward():
    tokens, provenance, records = decode(tiny_model(0), None, [1, 2, 3], max_new_tokens=10, schedule=DraftSchedule())
    assert len(tokens) == 10 and set(provenance) == {Provenance.VERIFIER}
    assert len(records) == 11 and records[0].is_prefill


@pytest.mark.parametrize("draft_vocab", [64, 200])
def test_restricted_draft_vocabulary_stays_lossless(draft_vocab):
    verifier = tiny_model(0)
    backend = TransformersBackend(verifier)
    expected = [t for r in Engine(SoloRounds(backend)).rounds([1, 2, 3], max_new_tokens=30, params=GREEDY) for t in r.tokens]
    draft = TransformersBackend(noisy_copy(verifier, 1, 0.002))
    drafter = ModelDrafter(draft, GREEDY, draft_vocab=draft_vocab, schedule=DraftSchedule(gamma=4))
    engine = Engine(SpeculativeRounds(TransformersBackend(verifier), drafter, ExactRule()))
    records = list(engine.rounds([1, 2, 3], max_new_tokens=30, params=GREEDY))
    assert [t for r in records for t in r.tokens] == expected
    kept_drafts = [t for r in records for t, p in zip(r.tokens, r.provenance) if p is Provenance.EXACT]
    assert all(t < draft_vocab or t in (1, 2, 3) for t in kept_drafts)  # drafts come from the subset only


def test_draft_decoding_alone_is_booked_as_draft_work():
    backend = TransformersBackend(tiny_model(0))
    engine = Engine(SoloRounds(backend, seat=DRAFT_SEAT))
    records = list(engine.rounds([1, 2], max_new_tokens=4, params=GREEDY))
    assert sum(r.draft_forwards for r in records) == 5 and sum(r.verifier_forwards for r in records) == 0
    assert {p for r in records for p in r.provenance} == {Provenance.DRAFT}
    assert {a for r in records for a in r.authors} == {DRAFT_SEAT}


def test_records_stay_consistent_when_eos_or_the_budget_cuts_a_draft():
    """A round cut inside its draft (EOS) or clipped by the budget keeps one provenance and one author per token, and
    its kept-token count is read from the committed tokens, not from the verdict."""
    cut_by_eos = cut_by_budget = 0
    for seed in range(12):
        verifier = tiny_model(seed, vocab=12, eos=3, sharpness=0.5)
        draft = noisy_copy(verifier, seed, 0.002)
        for budget in (7, 60):
            _, _, records = decode(verifier, draft, [5, 6], max_new_tokens=budget, schedule=DraftSchedule(gamma=6), eos=frozenset({3}))
            last = records[-1]
            assert len(last.tokens) == len(last.provenance) == len(last.authors)
            assert last.accepted == sum(p.accepted_draft for p in last.provenance)
            assert sum(len(r.tokens) for r in records) <= budget
            cut = last.proposed + 1 > len(last.tokens)
            cut_by_eos += cut and last.tokens[-1] == 3 and last.accepted == len(last.tokens)
            # The budget clips the last draft (to budget - 1 tokens) so the round still fits it.
            cut_by_budget += budget == 7 and last.proposed < 6 and sum(len(r.tokens) for r in records) == 7
    assert cut_by_eos >= 1 and cut_by_budget >= 1  # both cuts really happened


def test_a_cut_round_forgets_the_rejection_its_cut_replaced_token_recorded():
    record = RoundRecord(tokens=(4, 5, 6), provenance=(Provenance.RELAXED, Provenance.EXACT, Provenance.REPLACED),
                         authors=(0, 0, 1), proposed=4, forwards=(4, 1), model_seconds=(0.1, 0.2), seconds=0.3,
                         scores=(0.9, 0.2, 0.1), stop_check="score")
    assert record.truncated(3).stop_check == "score" and record.truncated(3).scores == (0.9, 0.2, 0.1)
    cut = record.truncated(2)
    assert cut.stop_check is None and cut.scores == (0.9, 0.2)


class _RecordingRule(ExactRule):
    """The exact rule, asking for hidden states and keeping what each round showed it."""

    needs_hidden = True

    def __init__(self) -> None:
        self.inputs = []

    def keep(self, inp):
        self.inputs.append(inp)
        return super().keep(inp)


def test_a_rule_sees_the_verifiers_state_after_each_drafted_token_and_the_one_that_predicted_it():
    """``hidden[i]`` is the state after reading drafted token i, ``context_hidden[i]`` the one before it (the
    judge's verifier_hidden and verifier_context blocks), equal to what fresh forwards over the text give."""
    verifier, draft = tiny_model(4).float(), noisy_copy(tiny_model(4), 104, 0.05).float()
    rule, prompt = _RecordingRule(), [5, 6, 7]
    drafter = ModelDrafter(TransformersBackend(draft), GREEDY, schedule=DraftSchedule(gamma=4))
    records = list(Engine(SpeculativeRounds(TransformersBackend(verifier), drafter, rule)).rounds(
        prompt, max_new_tokens=12, params=GREEDY))
    committed = [t for r in records for t in r.tokens]
    fresh, inputs, done = TransformersBackend(verifier), iter(rule.inputs), 0
    for record in records[1:]:  # after the prefill: rounds that drafted showed the rule one input each
        if record.proposed:
            inp = next(inputs)
            fresh.reset()
            states = fresh.forward([*prompt, *committed[:done], *inp.draft_tokens.tolist()], hidden=True).hidden
            start = len(prompt) + done  # the first drafted token's position
            torch.testing.assert_close(inp.hidden, states[start:start + inp.gamma], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(inp.context_hidden, states[start - 1:start - 1 + inp.gamma], atol=1e-4, rtol=1e-4)
        done += len(record.tokens)
    assert len(rule.inputs) >= 2 and next(inputs, None) is None
