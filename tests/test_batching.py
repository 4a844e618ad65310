"""Continuous batching on tiny models, llama.cpp (GGUF) and torch: each request's output is its
unbatched output, requests join and leave at different rounds with different methods, one can be
cancelled, errors stay its own.

A batched llama.cpp decode rounds differently from a lone one (by up to ~5e-4 on these models), so
there "its unbatched output" means: the same tokens, or the first different token sits at a
near-tie. A padded torch batch in fp32 moves logits by ~1e-6: there the tokens must be equal.
"""

from __future__ import annotations

import threading

import pytest
from batching_support import BACKENDS, gguf_pipeline, torch_pipeline, unbatched_output

from verispec import Pipeline
from verispec.batching import BatchedPipeline, BatchSettings, batched_model
from verispec.errors import ConfigError

PROMPTS = ["abc dab", "dab abc abc", "cab", "bad cab dab", "a", "abba cd"]
# Different methods and budgets, so requests finish, and others join, at different rounds.
REQUESTS = [
    ("verifier", 40), ("sd:gamma=4,stop_below=0,cost_aware=false", 60), ("sd", 25),
    ("sd:drafter=lookup,gamma=3", 50), ("draft", 12), ("sd:gamma=2,cost_aware=false", 35),
]
@pytest.fixture(scope="module", params=BACKENDS)
def pipe(request, tmp_path_factory) -> Pipeline:
    return gguf_pipeline(tmp_path_factory.mktemp("batch")) if request.param == "llama.cpp" else torch_pipeline()


@pytest.fixture(scope="module")
def batched(pipe):
    with BatchedPipeline(pipe, BatchSettings(slots=3, slot_context=128, max_batch_tokens=256, draft_up_to=None)) as made:
        yield made  # drafting at any batch size, so that batched drafting is tested too


def test_greedy_requests_batched_write_what_each_writes_alone(pipe, batched):
    """Six requests on three slots: three wait, and join as the first ones finish."""
    requests = [(pipe.verifier.tokenizer(p).input_ids, {"method": m, "max_new_tokens": n})
                for p, (m, n) in zip(PROMPTS, REQUESTS, strict=True)]
    alone = [pipe.generate(prompt, **options) for prompt, options in requests]
    together = batched.generate_many(requests)
    for single, joint, (prompt, options) in zip(alone, together, requests, strict=True):
        writer = pipe.handle("draft" if options["method"] == "draft" else "verifier").backend
        assert unbatched_output(pipe, writer, prompt, single.token_ids, joint.token_ids), options["method"]
        assert joint.method == single.method and joint.stats.new_tokens == len(joint.token_ids)
    assert sum(s.token_ids == j.token_ids for s, j in zip(alone, together)) >= 4
    counters = batched.batcher.counters
    assert counters.mean_batch("verifier") > 1.0  # decodes were shared, not taken in turn
    assert counters.decodes["draft"] > 0
    assert batched.active == 0 and batched.queued == 0


def test_sampling_stays_reproducible_per_seed_whatever_runs_beside_it(pipe, batched):
    """A sampled token moves only if its uniform draw falls within the rounding (~1e-4): rare enough."""
    prompt = pipe.verifier.tokenizer("abc dab").input_ids
    sampled = {"method": "sd:gamma=3,cost_aware=false", "max_new_tokens": 30, "temperature": 1.0, "seed": 11}
    neighbours = [(pipe.verifier.tokenizer(p).input_ids, {"method": "verifier", "max_new_tokens": n})
                  for p, n in (("cab", 20), ("a", 45))]
    first = batched.generate_many([(prompt, sampled), *neighbours])[0]
    second = batched.generate_many([neighbours[1], (prompt, sampled)])[1]
    assert first.token_ids == second.token_ids
    assert first.token_ids == pipe.generate(prompt, **sampled).token_ids


def test_a_slot_keeps_its_prompt_for_the_next_request_that_shares_it(pipe):
    first, other = (pipe.verifier.tokenizer(p * 6).input_ids for p in ("abc dab ", "cd ba "))
    options = {"method": "verifier", "max_new_tokens": 8}
    with BatchedPipeline(pipe, BatchSettings(slots=2, slot_context=128, max_batch_tokens=256)) as batch:
        decoded = batch.batcher.counters.tokens
        results = [batch.generate(first, **options), batch.generate(other, **options)]
        before = decoded["verifier"]
        again = batch.generate(first, **options)  # back on the first prompt's slot
        assert decoded["verifier"] - before == 1 + 8  # one prompt token (its logits) and one per new token
    assert again.token_ids == results[0].token_ids == pipe.generate(first, **options).token_ids
    assert results[1].token_ids == pipe.generate(other, **options).token_ids


def test_above_draft_up_to_rounds_verify_one_token_and_write_the_same(pipe):
    requests = [(pipe.verifier.tokenizer(p).input_ids, {"method": "sd:gamma=3,cost_aware=false", "max_new_tokens": 20})
                for p in PROMPTS[:3]]
    alone = [pipe.generate(prompt, **options) for prompt, options in requests]
    settings = BatchSettings(slots=3, slot_context=128, max_batch_tokens=256, draft_up_to=0)
    with BatchedPipeline(pipe, settings) as batch:
        together = batch.generate_many(requests)
        assert "draft" not in batch.batcher.counters.decodes
    for single, joint, (prompt, _) in zip(alone, together, requests, strict=True):
        assert single.stats.proposed > 0 and joint.stats.proposed == 0
        assert unbatched_output(pipe, pipe.verifier.backend, prompt, single.token_ids, joint.token_ids)


def test_a_cancelled_request_leaves_the_others_running(pipe, batched):
    prompt = pipe.verifier.tokenizer("dab abc").input_ids
    expected = pipe.generate(prompt, method="verifier", max_new_tokens=40).token_ids
    results = {}
    other = threading.Thread(target=lambda: results.setdefault(
        "other", batched.generate(prompt, method="verifier", max_new_tokens=40)))
    stream = batched.stream(prompt, method="sd", max_new_tokens=80)
    next(stream)
    other.start()
    stream.close()
    other.join(timeout=60)
    assert results["other"].token_ids == expected
    for _ in range(50):  # the cancelled worker leaves at its next chunk
        if batched.active == 0:
            break
        threading.Event().wait(0.05)
    assert batched.active == 0


def test_a_bad_request_fails_alone_with_its_typed_error(pipe, batched):
    prompt = pipe.verifier.tokenizer("abc").input_ids
    with pytest.raises(ConfigError, match="unknown method"):
        batched.generate(prompt, method="nonsense")
    assert batched.generate(prompt, method="verifier", max_new_tokens=5).stats.new_tokens > 0


def test_batching_refuses_models_it_cannot_batch_and_bad_settings():
    class Elsewhere:  # a backend of neither kind
        pass

    with pytest.raises(ConfigError, match="llama.cpp or transformers, not on Elsewhere"):
        batched_model(Elsewhere(), BatchSettings())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="slots must be 1 to 256"):
        BatchSettings(slots=0)
    with pytest.raises(ConfigError, match="draft_up_to must be >= 0"):
        BatchSettings(draft_up_to=-1)
    with pytest.raises(ConfigError, match="a prompt must fit one decode"):
        BatchSettings(slot_context=512, max_batch_tokens=256)
