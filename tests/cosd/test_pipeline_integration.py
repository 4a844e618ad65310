"""CoSD methods through the public Pipeline: routing, authorship, vocabularies, extra assistants."""

import pytest
from cosd_models import merged_tokenizer
from tiny_models import byte_tokenizer, noisy_copy, tiny_model

from verispec import Pipeline, Provenance
from verispec.cosd import DecisionTree
from verispec.cosd.features import feature_names
from verispec.cosd.trained import ClassifierFile, TrainingSummary, model_identities
from verispec.errors import ConfigError, VocabularyMismatchError
from verispec.methods import cross_vocabulary_methods

NEVER = "cosd-rule:alpha=1e-12"  # no drafted token is unsure enough to replace
ALWAYS = "cosd-rule:alpha=1,beta=1e-9"  # every disagreeing assistant token replaces the draft's
PROMPT = "hello"


@pytest.fixture(scope="module")
def pipe():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    return Pipeline(draft=(noisy_copy(verifier, 100, 0.05), tokenizer), verifier=(verifier, tokenizer), dtype="fp32")


@pytest.fixture(scope="module")
def cross_pipe():
    """A draft on the byte tokenizer and a verifier on a tokenizer with merges: different vocabularies."""
    merged = merged_tokenizer()
    verifier = tiny_model(3, vocab=len(merged), eos=merged.eos_token_id)
    return Pipeline(draft=(tiny_model(4), byte_tokenizer()), verifier=(verifier, merged), dtype="fp32")


def always_assistant_tree(path, pipe):
    """A one-leaf tree that always picks assistant 1, saved for ``pipe``'s models."""
    tree = DecisionTree(feature=(-1,), threshold=(-2.0,), left=(-1,), right=(-1,), value=((0.0, 1.0),), samples=(1,), classes=(0, 1))
    names = ("draft", "assistant1")
    ClassifierFile(
        kind="tree", models=tuple(model_identities([(h.name, h.tokenizer) for h in (pipe.draft, pipe.verifier)])),
        features=feature_names(1), class_names=names, payload=tree.to_payload(),
        training=TrainingSummary("gsm8k", "train", 1, ("a",), 1, 0, {"assistant1": 1}, 1.0),
    ).save(path)
    return path


def test_cosd_methods_are_registered_as_cross_vocabulary_or_not():
    listed = cross_vocabulary_methods()
    assert {"cosd-rule", "cosd-tree", "sd", "lenient", "typical", "judge"} <= set(listed)
    assert not {"avg", "co-llm"} & set(listed)


def test_never_replacing_equals_draft_only_greedy(pipe):
    result = pipe.generate(PROMPT, method=NEVER, max_new_tokens=24)
    assert result.token_ids == pipe.generate(PROMPT, method="draft", max_new_tokens=24).token_ids
    assert set(result.authors) == {"draft"}
    assert len(result.authors) == len(result.provenance) == len(result.token_ids) == result.stats.new_tokens == 24


def test_always_replacing_rule_equals_verifier_only_greedy(pipe):
    result = pipe.generate(PROMPT, method=ALWAYS, max_new_tokens=24)
    assert result.token_ids == pipe.generate(PROMPT, method="verifier", max_new_tokens=24).token_ids
    assert result.token_ids != pipe.generate(PROMPT, method="draft", max_new_tokens=24).token_ids  # the test has power
    assert "assistant1" in result.authors and Provenance.REPLACED in result.provenance


def test_always_assistant_tree_equals_verifier_only_greedy(pipe, tmp_path):
    path = always_assistant_tree(tmp_path / "tree.json", pipe)
    result = pipe.generate(PROMPT, method=f"cosd-tree:tree={path},gamma=3", max_new_tokens=24)
    assert result.token_ids == pipe.generate(PROMPT, method="verifier", max_new_tokens=24).token_ids
    assert result.method == f"cosd-tree:gamma=3,tree={path}"


def test_stream_chunks_add_up_to_the_result_with_authors(pipe):
    chunks = list(pipe.stream(PROMPT, method=ALWAYS, max_new_tokens=30, gamma=4))
    result = chunks[-1].result
    assert "".join(c.text for c in chunks) == result.text
    assert [t for c in chunks for t in c.token_ids] == result.token_ids
    assert [a for c in chunks[:-1] for a in c.authors] == result.authors
    assert [p for c in chunks for p in c.provenance] == result.provenance


def test_authorship_is_in_to_dict_only_when_present(pipe):
    assert pipe.generate(PROMPT, method=ALWAYS, max_new_tokens=8).to_dict()["authors"]
    assert "authors" not in pipe.generate(PROMPT, method="sd", max_new_tokens=8).to_dict()


def test_avg_decoding_runs_on_one_vocabulary(pipe):
    result = pipe.generate(PROMPT, method="avg", max_new_tokens=10)
    assert len(result.authors) == len(result.token_ids) == 10
    assert set(result.authors) <= {"draft", "assistant1"}


def test_cross_vocabulary_models_run_cosd_and_sd_but_not_avg(cross_pipe):
    result = cross_pipe.generate(PROMPT, method=ALWAYS, max_new_tokens=12)
    assert result.text and len(result.authors) == len(result.token_ids)
    assert result.text == cross_pipe.draft.tokenizer.decode(result.token_ids, skip_special_tokens=True)
    verifier_only = cross_pipe.generate(PROMPT, method="verifier", max_new_tokens=8)
    assert cross_pipe.generate(PROMPT, method="sd", max_new_tokens=8).token_ids == verifier_only.token_ids
    with pytest.raises(VocabularyMismatchError, match="avg decoding mixes token ids.*cosd-rule or cosd-tree"):
        cross_pipe.generate(PROMPT, method="avg", max_new_tokens=2)


def test_extra_assistants_join_collaborative_methods():
    tokenizer = byte_tokenizer()
    verifier = tiny_model(0)
    pipe = Pipeline(
        draft=(noisy_copy(verifier, 100, 0.05), tokenizer), verifier=(verifier, tokenizer), dtype="fp32",
        assistants=[(noisy_copy(verifier, 200, 0.05), tokenizer)],
    )
    assert len(pipe.assistants) == 2
    result = pipe.generate(PROMPT, method=ALWAYS, max_new_tokens=16)
    assert set(result.authors) <= {"draft", "assistant1", "assistant2"} and len(result.authors) == 16
    assert result.stats.verifier_forwards > result.stats.rounds  # both assistants reviewed every round


@pytest.mark.parametrize(
    ("method", "match"),
    [
        ("cosd-rule:alpha=0", "alpha must be in \\(0, 1\\]"),
        ("cosd-rule:beta=1.5", "beta must be in \\(0, 1\\]"),
        ("cosd-tree", "needs tree=PATH.*train-tree"),
        ("co-llm", "needs classifier=PATH.*train-deferral"),
        ("cosd-rule:gamma=0", "gamma .* must be >= 1"),
    ],
)
def test_bad_options_raise_config_errors(pipe, method, match):
    with pytest.raises(ConfigError, match=match):
        pipe.generate(PROMPT, method=method, max_new_tokens=2)
