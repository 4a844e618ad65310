"""Choosing the draft length from measured costs: the formula, interpolation, the choice, the schedule."""

import random

import pytest
from tiny_models import byte_tokenizer, noisy_copy, tiny_model

from verispec import Pipeline
from verispec.backends.base import ForwardClock
from verispec.costs import best_draft_length, expected_tokens, verify_cost
from verispec.errors import ConfigError
from verispec.schedule import CostAwareSchedule, DraftSchedule


@pytest.mark.parametrize(("alpha", "gamma"), [(0.0, 4), (0.5, 1), (0.8, 5), (0.95, 12)])
def test_expected_tokens_matches_a_simulated_round(alpha, gamma):
    rng = random.Random(0)
    rounds = 40_000
    total = 0
    for _ in range(rounds):
        kept = 0
        while kept < gamma and rng.random() < alpha:
            kept += 1
        total += kept + 1  # plus the verifier's replacement or bonus token
    assert total / rounds == pytest.approx(expected_tokens(alpha, gamma), rel=0.02)
    assert expected_tokens(1.0, gamma) == gamma + 1


def test_verify_cost_interpolates_and_extrapolates_measured_lengths():
    measured = {1: 0.033, 2: 0.048, 4: 0.069, 8: 0.120}
    assert verify_cost(measured, 4) == 0.069
    assert verify_cost(measured, 3) == pytest.approx((0.048 + 0.069) / 2)
    assert verify_cost(measured, 12) == pytest.approx(0.120 + (0.120 - 0.069))  # the last slope goes on
    assert verify_cost({6: 0.12}, 1) == pytest.approx(0.02) and verify_cost({6: 0.1}, 9) == 0.1  # proportional below
    assert verify_cost({}, 3) is None


def test_no_draft_wins_when_verifying_is_costly_and_drafts_are_poor():
    # llama.cpp on a 2-core CPU: verifying k tokens costs much more than one; the draft costs 0.6 of a step.
    costly = {1: 0.033, 2: 0.048, 4: 0.069, 8: 0.120, 16: 0.134}
    gamma, rate = best_draft_length(costly, draft_cost=0.02, alpha=0.5, max_gamma=16)
    assert gamma == 0 and rate == pytest.approx(1 / 0.033)
    # Nearly free drafts that copy the prompt (lookup) pay even there.
    gamma, _ = best_draft_length(costly, draft_cost=0.0, alpha=0.95, max_gamma=16)
    assert gamma >= 8


def test_long_drafts_win_when_verification_is_flat():
    flat = {1: 0.2, 16: 0.21}  # a GPU, or bf16 with AMX
    gamma, _ = best_draft_length(flat, draft_cost=0.02, alpha=0.9, max_gamma=16)
    assert gamma >= 8
    assert best_draft_length({}, 0.02, 0.9, 16) is None


def clocks(verifier_costs, draft_cost):
    return ForwardClock(by_length=dict(verifier_costs)), ForwardClock(by_length={1: draft_cost})


def test_the_schedule_stops_drafting_when_drafts_are_rejected_and_probes_less_and_less_often():
    verifier, draft = clocks({1: 0.033, 4: 0.069, 8: 0.120}, 0.005)  # a cheap draft: worth probing
    schedule = CostAwareSchedule(DraftSchedule(gamma=5), verifier, draft, probe_every=3)
    gamma = schedule.first()
    assert gamma == 5
    lengths = [gamma := schedule.next(gamma, gamma, 0) for _ in range(16)]  # every draft rejected at once
    assert schedule.acceptance < 0.3
    # Idle rounds, each probe of the base length followed by twice as long a wait (3, 6, then 12).
    assert lengths == [0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 5] + [0] * 5


def test_the_schedule_never_probes_where_even_kept_drafts_would_not_pay():
    # The draft costs 0.66 of a verifier step and verifying 2 tokens nearly 2 steps (llama.cpp, 2 cores).
    verifier, draft = clocks({1: 0.028, 2: 0.054, 6: 0.136}, 0.0185)
    schedule = CostAwareSchedule(DraftSchedule(gamma=5), verifier, draft, probe_every=2)
    gamma = schedule.first()
    lengths = [gamma := schedule.next(gamma, gamma, gamma) for _ in range(20)]  # whatever is drafted is kept
    assert lengths == [0] * 20
    assert schedule.first() == 0  # the next sequence, on the same measured models, does not open with a draft


def test_the_schedule_does_not_probe_for_a_gain_that_only_perfect_drafts_would_bring():
    # Measured in a llama.cpp bench: a 57-token prefill is cheap per token, so interpolated long
    # verifications look cheap, and 15 drafted tokens kept every time would gain ~1.5%. Probing
    # for that cost 4 draft catch-ups per sequence (sd at 0.83x verifier-only); it must not probe.
    verifier, draft = clocks({1: 0.031, 6: 0.128, 57: 0.5}, 0.019)
    assert best_draft_length(verifier.by_length, 0.019, 1.0, 16)[0] > 0
    schedule = CostAwareSchedule(DraftSchedule(gamma=5), verifier, draft, probe_every=2)
    gamma = schedule.first()
    assert gamma == 0
    assert [gamma := schedule.next(gamma, gamma, gamma) for _ in range(20)] == [0] * 20
    # A free drafter (prompt lookup) on the same verifier is worth a probe now and then.
    lookup = CostAwareSchedule(DraftSchedule(gamma=5), verifier, ForwardClock(by_length={1: 0.0}), probe_every=2)
    gamma = lookup.first()
    assert gamma == 5
    assert 5 in [gamma := lookup.next(gamma, gamma, 0) for _ in range(8)]


def test_the_schedule_drafts_long_when_drafts_are_kept_and_verifying_is_flat():
    verifier, draft = clocks({1: 0.2, 17: 0.21}, 0.01)
    schedule = CostAwareSchedule(DraftSchedule(gamma=5, max_gamma=16), verifier, draft)
    gamma = schedule.first()
    for _ in range(10):
        gamma = schedule.next(gamma, gamma, gamma)  # whole drafts kept
    assert gamma == 16 and schedule.acceptance > 0.9


def test_the_schedule_keeps_the_base_length_until_costs_are_measured():
    schedule = CostAwareSchedule(DraftSchedule(gamma=4), ForwardClock(), ForwardClock())
    assert schedule.next(schedule.first(), 4, 2) == 4


def test_clocks_average_forward_costs_by_length(monkeypatch):
    ticks = iter([0.0, 0.1, 1.0, 1.3, 2.0, 2.5])  # forwards of 0.1 s and 0.3 s over 3 tokens, 0.5 s over 8
    monkeypatch.setattr("verispec.backends.base.time.perf_counter", lambda: next(ticks))
    clock = ForwardClock(recent=0.5)
    for tokens in (3, 3, 8):
        with clock.measure(tokens):
            pass
    assert clock.by_length == pytest.approx({3: 0.2, 8: 0.5}) and clock.count == 3


def test_cost_aware_sd_stays_lossless_and_refuses_two_schedules():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    pipe = Pipeline(draft=(noisy_copy(verifier, 1, 0.002), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")
    expected = pipe.generate("hello", method="verifier", max_new_tokens=40).token_ids
    for method in ("sd:cost_aware=true", "sd:cost_aware=true,drafter=lookup"):
        assert pipe.generate("hello", method=method, max_new_tokens=40).token_ids == expected
    with pytest.raises(ConfigError, match="choose one draft schedule"):
        pipe.generate("hello", method="sd:cost_aware=true,adaptive=true", max_new_tokens=4)


def test_an_idle_schedule_starts_drafting_again_only_for_a_clear_gain():
    # Measured with γ = 1 kept 90% of the time, drafting is 2% faster than decoding alone: not
    # worth waking an idle drafter (it must catch up first); 10% faster is.
    verifier, draft = clocks({1: 0.031, 2: 0.036}, 0.019)
    schedule = CostAwareSchedule(DraftSchedule(gamma=1, max_gamma=1), verifier, draft, probe_every=1000)
    schedule.first()
    schedule._kept, schedule._rejected = 9.0, 1.0
    rate_alone = 1 / 0.031
    assert best_draft_length(verifier.by_length, 0.019, 0.9, 1) == (1, pytest.approx(1.9 / 0.055))
    assert 1.9 / 0.055 / rate_alone == pytest.approx(1.07, abs=0.01)
    assert schedule.next(0, 0, 0) == 1  # 7% > 5%
    verifier.by_length[2] = 0.0375  # now 1.9 / 0.0565 ≈ 1.04 × alone
    schedule._kept, schedule._rejected = 9.0, 1.0
    assert schedule.next(0, 0, 0) == 0
    schedule._kept, schedule._rejected = 9.0, 1.0
    assert schedule.next(1, 1, 1) == 1  # after a drafting round (caught up), any gain counts
