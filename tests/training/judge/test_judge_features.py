"""Feature extraction: the hidden state at each response token is the one the engine gives the rule."""

import pytest
import torch

from tiny_models import byte_tokenizer, tiny_model
from verispec.backends import TransformersBackend
from verispec.tokens import encode_prompt
from verispec.training.judge.features import TokenFeatures, cache_folder, extract_features
from verispec.training.judge.samples import JudgeSample


@pytest.fixture(scope="module")
def verifier():
    return TransformersBackend(tiny_model(0), name="tiny")


@pytest.fixture(scope="module")
def tokenizer():
    return byte_tokenizer()


def sample(sample_id, response, error_start=None, content="Add 2 and 2."):
    return JudgeSample(sample_id, ({"role": "user", "content": content},), response, error_start)


SAMPLES = [sample("a", "It is 5, since 2+2=5.", error_start=6), sample("b", "Four."), sample("c", "x" * 40, error_start=0)]


def engine_view(verifier, prompt, tokens):
    """What the engine hands a rule when ``tokens`` are a draft after ``prompt``: hidden states and argmaxes."""
    verifier.reset()
    verifier.forward(prompt[:-1], last_only=True)
    out = verifier.forward([prompt[-1], *tokens], hidden=True)
    return out.hidden[1:], out.logits[:-1].argmax(dim=-1)


def test_features_equal_the_engine_hidden_states_and_exact_checks(verifier, tokenizer):
    features = extract_features(SAMPLES, verifier, tokenizer, cache_dir=None, progress=False)
    assert features.sample_ids == ("a", "b", "c")
    assert features.counts() == {"tokens": 7 + 5 + 1, "good": 6 + 5, "bad": 2, "samples": 3}
    for index, s in enumerate(SAMPLES):
        rows = features.sample == index
        prompt = encode_prompt(tokenizer, list(s.messages), chat=True)
        tokens = tokenizer(s.response, add_special_tokens=False)["input_ids"][: int(rows.sum())]
        hidden, argmax = engine_view(verifier, prompt, tokens)
        assert torch.allclose(features.hidden[rows], hidden, atol=1e-5)
        assert torch.equal(features.exact[rows], argmax == torch.tensor(tokens))
        expected_good = [True] * (len(tokens) - 1) + [s.error_start is None]
        assert features.good[rows].tolist() == expected_good


def test_response_equal_to_verifier_greedy_is_flagged_exact(tokenizer):
    model = tiny_model(3)
    printable = set(tokenizer("".join(map(chr, range(32, 127))), add_special_tokens=False)["input_ids"])
    with torch.no_grad():  # only printable ASCII can win the argmax, so the greedy tokens are text
        model.lm_head.weight[[i for i in range(257) if i not in printable]] = 0.0
    verifier = TransformersBackend(model, name="ascii")
    prompt = encode_prompt(tokenizer, list(SAMPLES[1].messages), chat=True)
    verifier.reset()
    greedy = []
    logits = verifier.forward(prompt, last_only=True).logits[-1]
    for _ in range(8):
        greedy.append(int(logits.argmax()))
        logits = verifier.forward([greedy[-1]]).logits[-1]
    response = tokenizer.decode(greedy)
    features = extract_features([sample("g", response), sample("h", "~" + response)], verifier, tokenizer, progress=False)
    assert features.exact[features.sample == 0].tolist() == [True] * 8
    assert not features.exact[features.sample == 1].all()  # shifted by one byte it is no longer greedy


def test_cache_is_reused_and_keyed_by_content(verifier, tokenizer, tmp_path, monkeypatch):
    first = extract_features(SAMPLES, verifier, tokenizer, cache_dir=tmp_path, progress=False)
    folder = tmp_path / cache_folder(verifier)
    assert [p.parent for p in tmp_path.rglob("*.pt")] == [folder] * 3  # one file per sample
    calls = []
    real_forward = verifier.forward
    monkeypatch.setattr(verifier, "forward", lambda *a, **k: calls.append(1) or real_forward(*a, **k))
    again = extract_features(SAMPLES, verifier, tokenizer, cache_dir=tmp_path, progress=False)
    assert torch.equal(again.hidden, first.hidden) and torch.equal(again.good, first.good) and again.sample_ids == first.sample_ids
    assert calls == []
    changed = [*SAMPLES[:2], sample("c", "x" * 40, error_start=1), sample("d", "Five.")]
    extract_features(changed, verifier, tokenizer, cache_dir=tmp_path, progress=False)
    assert len(calls) == 2  # only the changed sample and the new one are extracted


def test_skipped_samples_are_cached_as_skipped(tokenizer, tmp_path):
    small = TransformersBackend(tiny_model(0), name="tiny")
    small.max_context = 40
    first = extract_features([sample("long", "y" * 60), SAMPLES[1]], small, tokenizer, cache_dir=tmp_path, progress=False)
    again = extract_features([sample("long", "y" * 60), SAMPLES[1]], small, tokenizer, cache_dir=tmp_path, progress=False)
    assert first.skipped == again.skipped == ("long",) and torch.equal(first.hidden, again.hidden)


def test_samples_longer_than_the_context_or_empty_are_skipped(tokenizer):
    small = TransformersBackend(tiny_model(0), name="tiny")
    small.max_context = 40
    features = extract_features([sample("long", "y" * 60), sample("empty", ""), SAMPLES[1]], small, tokenizer, progress=False)
    assert features.skipped == ("long", "empty") and features.sample_ids == ("b",)


def test_split_keeps_whole_samples_on_one_side():
    n = 300
    features = TokenFeatures(
        hidden=torch.zeros(3 * n, 2), good=torch.ones(3 * n, dtype=torch.bool), exact=torch.zeros(3 * n, dtype=torch.bool),
        sample=torch.arange(n).repeat_interleave(3), sample_ids=tuple(f"s{i}" for i in range(n)),
    )
    train, val = features.split(0.3)
    assert len(train) + len(val) == len(features)
    assert not set(train.sample.tolist()) & set(val.sample.tolist())
    assert 0.15 < len(val) / len(features) < 0.45


def test_a_subset_reads_the_cache_of_the_whole_set(verifier, tokenizer, tmp_path):
    whole = extract_features(SAMPLES, verifier, tokenizer, cache_dir=tmp_path, progress=False)
    chosen = extract_features(SAMPLES[:1], verifier, tokenizer, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.rglob("*.pt"))) == 3
    assert torch.equal(chosen.hidden, whole.hidden[whole.sample == whole.sample_ids.index("a")])


def test_context_characters_give_no_rows_and_the_rest_match_the_whole_response(verifier, tokenizer):
    whole = sample("w", "It is 5, since 2+2=5.", error_start=6)
    judged = JudgeSample("j", whole.messages, whole.response, 6, labels_from=5)  # "It is" is context
    features = extract_features([whole, judged], verifier, tokenizer, cache_dir=None, progress=False)
    rows_whole, rows_judged = features.sample == 0, features.sample == 1
    assert features.good[rows_judged].tolist() == [True, False]  # the space, then the bad "5"
    assert torch.equal(features.hidden[rows_judged], features.hidden[rows_whole][5:])
    assert torch.equal(features.exact[rows_judged], features.exact[rows_whole][5:])


def test_context_changes_the_cache_key_only_when_present(verifier):
    plain = sample("a", "It is 5.")
    assert plain.fingerprint() == JudgeSample(plain.id, plain.messages, plain.response, None, labels_from=0).fingerprint()
    assert plain.fingerprint() != JudgeSample(plain.id, plain.messages, plain.response, None, labels_from=3).fingerprint()
