"""Avg decoding and the Co-LLM-style deferral: reductions to single-model greedy decoding, training, files."""

import numpy as np
import pytest
import torch
from cosd_models import fuse, handle, merged_tokenizer, scripted
from sklearn.linear_model import LogisticRegression
from tiny_models import byte_tokenizer, noisy_copy, tiny_model

from verispec.backends import TransformersBackend
from verispec.cosd.baselines import AvgDecoding, Deferral, LogisticDeferral, load_deferral
from verispec.cosd.features import DRAFT_FEATURES
from verispec.cosd.members import Scorer
from verispec.cosd.trained import ClassifierFile, ModelIdentity, TrainingSummary
from verispec.engine import Engine, SoloRounds
from verispec.errors import ClassifierMismatchError, VocabularyMismatchError
from verispec.pipeline import ModelHandle
from verispec.sampling import SamplingParams


def greedy(model, prompt, n=25):
    ids = byte_tokenizer()(prompt, add_special_tokens=False)["input_ids"]
    engine = Engine(SoloRounds(TransformersBackend(model)), eos_token_ids=frozenset({256}))
    return [t for r in engine.rounds(ids, max_new_tokens=n, params=SamplingParams()) for t in r.tokens]


@pytest.mark.parametrize("seed", [0, 1])
def test_avg_of_identical_models_is_greedy_decoding(seed):
    model = tiny_model(seed)
    twins = [ModelHandle(f"copy{i}", model, byte_tokenizer()) for i in range(3)]  # one backend each
    result = fuse(AvgDecoding(twins), "hello", max_new_tokens=25, chat=False)
    assert result.token_ids == greedy(model, "hello")
    assert result.method == "avg" and result.stats.model_forwards == [26, 26, 26]


def test_avg_follows_the_more_confident_model_and_credits_it():
    prompt = "Q: "
    unsure = scripted("unsure", byte_tokenizer(), prompt + "cat", 0.3)
    sure = scripted("sure", byte_tokenizer(), prompt + "dog", 0.9)
    result = fuse(AvgDecoding([unsure, sure]), prompt, max_new_tokens=10, chat=False)
    assert result.text == "dog"
    assert set(result.authors) == {"assistant1"}


def test_avg_and_deferral_need_one_vocabulary():
    byte_model = handle("byte", 0, byte_tokenizer())
    merged_model = handle("merged", 1, merged_tokenizer())
    with pytest.raises(VocabularyMismatchError, match="cosd-rule or cosd-tree"):
        AvgDecoding([byte_model, merged_model])
    with pytest.raises(VocabularyMismatchError, match="vocabulary"):
        Deferral(byte_model, [merged_model], LogisticDeferral((0,), (), ()))


@pytest.mark.parametrize(("writer", "expected_author"), [(0, 0), (1, 1)])
def test_deferral_that_always_picks_one_model_is_that_models_greedy_decoding(writer, expected_author):
    assistant = tiny_model(2)
    draft = noisy_copy(assistant, 3, 0.05)
    handles = [ModelHandle("draft", draft, byte_tokenizer()), ModelHandle("assistant", assistant, byte_tokenizer())]
    result = fuse(Deferral(handles[0], handles[1:], LogisticDeferral((writer,), (), ())), "hello", max_new_tokens=25, chat=False)
    assert result.token_ids == greedy([draft, assistant][writer], "hello")
    assert greedy(draft, "hello") != greedy(assistant, "hello")  # the check has power
    assert set(result.authors) == {["draft", "assistant1"][expected_author]}
    # The assistant reads only when deferred to: never, or every step (catching up in one pass).
    assert result.stats.model_forwards[1] == (1 if writer == 0 else 26)


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_deferral_predicts_like_scikit_learn(classes):
    rng = np.random.default_rng(0)
    x = rng.random((200, 2)) * [1.0, 5.0]
    y = np.digitize(x[:, 0] - 0.1 * x[:, 1], [0.0, 0.5][: classes - 1])
    fitted = LogisticRegression(max_iter=1000, random_state=0).fit(x, y)
    ours = LogisticDeferral.fit(x, y)
    probe = rng.random((300, 2)) * [1.0, 5.0]
    assert [ours.predict(row) for row in probe] == fitted.predict(probe).tolist()
    assert len(set(fitted.predict(probe))) == classes


def test_deferral_file_round_trip_and_refusal(tmp_path):
    tokenizer = byte_tokenizer()
    models = [ModelIdentity.of("draft", "d", tokenizer), ModelIdentity.of("assistant1", "a", tokenizer)]
    chooser = LogisticDeferral.fit([[0.9, 0.1], [0.2, 3.0], [0.8, 0.3], [0.1, 4.0]], [0, 1, 0, 1])
    stored = ClassifierFile(
        kind="deferral", models=tuple(models), features=DRAFT_FEATURES, class_names=("draft (d)", "assistant1 (a)"),
        payload=chooser.to_payload(), training=TrainingSummary("gsm8k", "train", 1, ("x",), 4, 0, {}, 1.0),
    )
    stored.save(tmp_path / "deferral.json")
    assert load_deferral(tmp_path / "deferral.json", models) == chooser
    with pytest.raises(ClassifierMismatchError, match="train-deferral"):
        load_deferral(tmp_path / "deferral.json", [models[0], ModelIdentity.of("assistant1", "other", tokenizer)])
    assert "writes when its score > 0" in chooser.describe(DRAFT_FEATURES, stored.class_names)


def test_scorer_keeps_the_cache_in_step_with_any_sequence():
    """Whatever the sequence asked for (extended, cut, changed in the middle), the rows equal a fresh pass."""
    model = tiny_model(4)
    scorer = Scorer(TransformersBackend(model))
    scorer.prefill([1, 2, 3, 4])
    for ids, start in [
        ([1, 2, 3, 4, 5, 6], 3),
        ([1, 2, 3, 4, 5, 6, 7, 8], 5),  # extended
        ([1, 2, 3, 9, 9], 2),  # changed after a shared prefix
        ([1, 2, 3, 9, 9, 10], 1),  # asks for rows already cached: re-read from there
        ([1, 2], 1),
    ]:
        rows = scorer.score(ids, start)
        with torch.no_grad():
            fresh = model(torch.tensor([ids])).logits[0, start:]
        assert torch.allclose(rows, fresh, atol=1e-5)
        assert scorer.fed == ids and scorer.backend.cached_length == len(ids)
